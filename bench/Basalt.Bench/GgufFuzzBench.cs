using System.Diagnostics;
using Basalt.Engine.Gguf;

namespace Basalt.Bench;

/// <summary>`gguf-fuzz` mode: a longer seeded mutation run of the GGUF reader than the unit test's; prints throughput and outcome counts,
/// and exits 1 on the first case that ends in anything but success or GgufFormatException.</summary>
internal static class GgufFuzzBench
{
    public static int Run(string[] args)
    {
        var cases = 100_000;
        var seed = 1;
        string? file = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--cases" when i + 1 < args.Length: cases = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed" when i + 1 < args.Length: seed = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--file" when i + 1 < args.Length: file = args[++i]; break;
                default:
                    Console.Error.WriteLine("usage: gguf-fuzz [--cases N] [--seed S] [--file SEED.gguf]");
                    return 2;
            }
        }
        var original = file is null ? SmallModel() : File.ReadAllBytes(file);
        var rng = new Random(seed);
        int opened = 0, rejected = 0;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < cases; i++)
        {
            var mutant = GgufMutator.Mutate(original, rng);
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
                Console.WriteLine($"FAIL case {i} (seed {seed}): {e.GetType().Name}: {e.Message}");
                var path = Path.Combine(Path.GetTempPath(), $"gguf-fuzz-{seed}-{i}.gguf");
                File.WriteAllBytes(path, mutant);
                Console.WriteLine($"mutant written to {path}");
                return 1;
            }
        }
        var s = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"gguf-fuzz: {cases} cases from a {original.Length}-byte seed in {s:0.0}s ({cases / s:0} cases/s): {opened} opened, {rejected} rejected, 0 other failures");
        return 0;
    }

    // A small file with every kind of entry the reader parses: scalars, strings, arrays, a nested array, tensors of several types.
    private static byte[] SmallModel() => new GgufWriter()
        .Add(GgufKeys.Architecture, "llama")
        .Add(GgufKeys.ForArch(GgufKeys.BlockCount, "llama"), 2u)
        .Add(GgufKeys.ForArch(GgufKeys.RopeFreqBase, "llama"), 10000f)
        .Add(GgufKeys.TokenizerTokens, ["<s>", "</s>", "a", "bc"])
        .Add(GgufKeys.TokenizerScores, [0f, 0f, -1f, -2f])
        .Add("fuzz.nested", GgufMetadataValue.Array([GgufMetadataValue.Array(new short[] { 1, -1 }), GgufMetadataValue.Array(new[] { "q" })]))
        .Add("fuzz.bool", true)
        .AddTensor("token_embd.weight", GgmlType.F32, [8, 4], new float[32])
        .AddTensor("blk.0.attn_q.weight", GgmlType.Q4_K, [256, 2], new float[512])
        .AddTensor("blk.0.ffn_up.weight", GgmlType.Q8_0, [32, 2], new float[64])
        .ToArray();
}
