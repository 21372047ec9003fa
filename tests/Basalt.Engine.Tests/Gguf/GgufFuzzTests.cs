using System.Buffers.Binary;
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
            var mutant = Mutate(seed, rng);
            try
            {
                using var f = GgufFile.FromBytes(mutant, "fuzz.gguf");
                Exercise(f);
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

    // Touches everything a caller can reach: metadata rendering and every tensor byte.
    private static void Exercise(GgufFile f)
    {
        foreach (var (_, v) in f.Metadata)
            _ = v.ToDisplayString();
        long sum = 0;
        foreach (var t in f.Tensors)
        {
            foreach (var b in f.TensorData(t))
                sum += b;
            if (t.RowCount > 0)
                sum += f.TensorRow(t, t.RowCount - 1).Length;
        }
        GC.KeepAlive(sum);
    }

    private static readonly ulong[] Interesting =
        [0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1UL << 32, 1UL << 40,
         (ulong)long.MaxValue, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 1];

    internal static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = (byte[])seed.Clone();
        var mutations = 1 + rng.Next(3);
        for (var m = 0; m < mutations; m++)
        {
            switch (rng.Next(6))
            {
                case 0: // flip bytes
                    for (var k = rng.Next(1, 9); k > 0; k--)
                        b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // random byte values
                    for (var k = rng.Next(1, 5); k > 0; k--)
                        b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
                case 2: // a count, length, dimension or offset overwritten with an extreme 64-bit value
                    if (b.Length >= 8)
                        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(rng.Next(b.Length - 7)), Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 3: // a type id or 32-bit field overwritten
                    if (b.Length >= 4)
                        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(rng.Next(b.Length - 3)), (uint)Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 4: // truncate
                    b = b.AsSpan(0, rng.Next(b.Length + 1)).ToArray();
                    break;
                default: // small value change in the header and tables, where counts live
                    var limit = Math.Min(b.Length, 600);
                    if (limit > 0)
                        b[rng.Next(limit)] += (byte)rng.Next(-3, 4);
                    break;
            }
            if (b.Length == 0)
                break;
        }
        return b;
    }
}
