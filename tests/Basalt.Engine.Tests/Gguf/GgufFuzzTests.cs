using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tests.Gguf;

/// <summary>Seeded mutation fuzzing of a small valid file: every mutant must open or fail with GgufFormatException, nothing else.</summary>
public sealed class GgufFuzzTests
{
    private const int Cases = 4000;
    private const int Seed = 20261123;

    internal static byte[] SeedFile() => new GgufWriter()
        .Add(GgufKeys.Architecture, "llama")
        .Add(GgufKeys.ForArch(GgufKeys.BlockCount, "llama"), 2u)
        .Add(GgufKeys.ForArch(GgufKeys.RopeFreqBase, "llama"), 10000f)
        .Add("fuzz.bool", true)
        .Add("fuzz.i64", GgufMetadataValue.From(-5L))
        .Add("fuzz.f64", GgufMetadataValue.From(2.5))
        .Add("fuzz.u8", GgufMetadataValue.From((byte)3))
        .Add(GgufKeys.TokenizerTokens, ["<s>", "</s>", "a", "bc"])
        .Add(GgufKeys.TokenizerScores, [0f, 0f, -1f, -2f])
        .Add("fuzz.nested", GgufMetadataValue.Array([GgufMetadataValue.Array(new short[] { 1, -1 }), GgufMetadataValue.Array(new[] { "q" })]))
        .AddTensor("token_embd.weight", GgmlType.F32, [8, 4], new float[32])
        .AddTensor("blk.0.attn_q.weight", GgmlType.F16, [16, 2], new float[32])
        .AddTensorBytes("blk.0.ffn_up.weight", GgmlType.Q8_0, [32, 2], new byte[68])
        .ToArray();

    [Fact]
    public void FromBytes_SeededMutations_OpenOrFailWithFormatExceptionOnly()
    {
        var seed = SeedFile();
        var rng = new Random(Seed);
        int opened = 0, rejected = 0;
        for (var i = 0; i < Cases; i++)
        {
            var mutant = GgufMutator.Mutate(seed, rng);
            try
            {
                using var f = GgufFile.FromBytes(mutant, "fuzz.gguf");
                GgufMutator.Exercise(f);
                opened++;
            }
            catch (GgufFormatException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} (seed {Seed}) threw {e.GetType().Name}: {e.Message}\n{Convert.ToHexString(mutant)}");
            }
        }
        // Both outcomes must occur, or the mutations are not reaching the parser.
        Assert.True(opened > Cases / 50, $"only {opened} mutants opened");
        Assert.True(rejected > Cases / 4, $"only {rejected} mutants were rejected");
    }
}

public sealed class GgufFuzzRealFileTests
{
    [Fact]
    public void FromBytes_MutatedStories260K_OpenOrFailWithFormatExceptionOnly()
    {
        var path = Basalt.Tests.Common.SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return;
        var seed = File.ReadAllBytes(path);
        var rng = new Random(7);
        for (var i = 0; i < 100; i++)
        {
            var mutant = GgufMutator.Mutate(seed, rng);
            try
            {
                using var f = GgufFile.FromBytes(mutant, "stories-fuzz.gguf");
                GgufMutator.Exercise(f);
            }
            catch (GgufFormatException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} threw {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
