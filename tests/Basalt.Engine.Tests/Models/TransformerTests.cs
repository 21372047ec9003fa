using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Tests.Models;

public sealed class TransformerTests
{
    // Largest |optimized - reference| logit difference allowed, relative to the largest |reference| logit.
    // Float weights: both paths use identical weight values, so only float-vs-double accumulation differs.
    private const double FloatWeightTolerance = 1e-4;
    // Quantized weights on the fast path: activations are quantized to 8 bits before each dot product (llama.cpp does the same),
    // per 32 values for Q8_0/Q4_0 and per 256 for the K-quants, so the K-quants drift further. Measured on these random models:
    // up to ~1.5% for Q8_0/Q4_0 and ~4% for the K-quants.
    private const double Q8ActivationTolerance = 3e-2;
    private const double Q8KActivationTolerance = 8e-2;

    private static double Tolerance(string type, bool exact) => exact || type is "F32" or "F16" or "BF16"
        ? FloatWeightTolerance
        : type is "Q8_0" or "Q4_0" or "Q5_0" or "Q5_1" ? Q8ActivationTolerance : Q8KActivationTolerance;

    // Shapes small enough for the double-precision reference yet with every feature live: GQA (4 query heads over 2 KV heads),
    // rows that are multiples of 256 so every quantized type applies, and an untied output for llama.
    private static ModelShape Tiny(string arch) => arch switch
    {
        "llama" => new("llama", 256, 2, 4, 2, 64, 512, 300, Tied: false),
        _ => new(arch, 256, 2, 4, 2, 64, 512, 300, Tied: true),
    };

    public static TheoryData<string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var arch in new[] { "llama", "qwen2", "qwen3", "phi3", "gemma2", "gemma3" })
            foreach (var type in SupportedTypes)
            {
                data.Add(arch, type, false);
                if (type is not ("F32" or "F16" or "BF16"))
                    data.Add(arch, type, true);
            }
        return data;
    }

    private static readonly string[] SupportedTypes = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_RandomModel_MatchesDoublePrecisionReference(string arch, string type, bool exactActivations)
    {
        var shape = Tiny(arch);
        var path = Path.Combine(Path.GetTempPath(), $"basalt-tiny-{arch}-{type}-{Environment.ProcessId}.gguf");
        try
        {
            RandomModel.Write(path, shape, RandomModel.TypePolicy(type, shape), seed: 7);
            using var file = GgufFile.Open(path);
            var architecture = Architecture.For(file);
            var config = architecture.ReadConfig(file);
            using var pool = new WorkerPool(2);
            using var weights = architecture.Bind(file, config);
            var model = new Transformer(config, weights, pool);
            var state = new BatchState(config, 1, 16) { ExactActivations = exactActivations };
            var cache = new KvCache(config, 16, KvCacheType.F32);
            var reference = new ReferenceForward(file, shape);
            // Eight positions: enough to cross gemma2's 4-token sliding window and exercise RoPE beyond position 0.
            int[] tokens = [1, 17, 260, 5, 299, 42, 42, 3];
            for (var pos = 0; pos < tokens.Length; pos++)
            {
                model.Forward(state, [new BatchToken(cache, tokens[pos], pos, 0)]);
                var expected = reference.Step(tokens[pos]);
                var scale = expected.Max(Math.Abs);
                var worst = 0.0;
                for (var i = 0; i < expected.Length; i++)
                    worst = Math.Max(worst, Math.Abs(state.Logits(0)[i] - expected[i]));
                var tolerance = Tolerance(type, exactActivations);
                Assert.True(worst <= tolerance * scale,
                    $"{arch} {type} (exact activations: {exactActivations}) position {pos}: max logit difference {worst:G4} exceeds {tolerance} x {scale:G4}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ArchitectureFor_UnknownArchitecture_NamesTheSupportedOnes()
    {
        var path = Path.Combine(Path.GetTempPath(), $"basalt-tiny-unknown-{Environment.ProcessId}.gguf");
        try
        {
            new GgufWriter().Add(GgufKeys.Architecture, "mamba").WriteTo(path);
            using var file = GgufFile.Open(path);
            var e = Assert.Throws<GgufFormatException>(() => Architecture.For(file));
            Assert.Contains("mamba", e.Message);
            Assert.Contains("qwen2", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
