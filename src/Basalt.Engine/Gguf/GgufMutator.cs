using System.Buffers.Binary;

namespace Basalt.Engine.Gguf;

/// <summary>Seeded mutations of a GGUF image for fuzzing the reader: bit flips, random bytes, extreme 32- and 64-bit values written
/// over counts, lengths, dimensions and offsets, truncation, and small nudges in the header and tables.</summary>
internal static class GgufMutator
{
    private static readonly ulong[] Interesting =
        [0, 1, 2, 3, 4, 7, 8, 31, 32, 33, 255, 256, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1UL << 32, 1UL << 40,
         (ulong)long.MaxValue, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 1];

    /// <summary>Bytes from the start where the header, metadata and tensor table of small files live; nudges aim there.</summary>
    private const int TableRegion = 600;

    /// <summary>A mutated copy of <paramref name="seed"/> with one to three mutations.</summary>
    public static byte[] Mutate(byte[] seed, Random rng)
    {
        var b = (byte[])seed.Clone();
        var mutations = 1 + rng.Next(3);
        for (var m = 0; m < mutations && b.Length > 0; m++)
        {
            switch (rng.Next(6))
            {
                case 0:
                    for (var k = rng.Next(1, 9); k > 0; k--)
                        b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1:
                    for (var k = rng.Next(1, 5); k > 0; k--)
                        b[rng.Next(b.Length)] = (byte)rng.Next(256);
                    break;
                case 2:
                    if (b.Length >= 8)
                        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(rng.Next(Math.Min(b.Length, TableRegion * 32) - 7)), Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 3:
                    if (b.Length >= 4)
                        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(rng.Next(Math.Min(b.Length, TableRegion * 32) - 3)), (uint)Interesting[rng.Next(Interesting.Length)]);
                    break;
                case 4:
                    b = b.AsSpan(0, rng.Next(b.Length + 1)).ToArray();
                    break;
                default:
                    b[rng.Next(Math.Min(b.Length, TableRegion))] += (byte)rng.Next(-3, 4);
                    break;
            }
        }
        return b;
    }

    /// <summary>Touches everything a caller can reach in an opened file: metadata rendering, typed getters, and every tensor byte.</summary>
    public static long Exercise(GgufFile f)
    {
        long sum = 0;
        foreach (var (key, v) in f.Metadata)
        {
            sum += v.ToDisplayString().Length;
            try
            {
                if (v.Value is string)
                    sum += f.GetString(key).Length;
                else if (v.Type == GgufValueType.Array && v.ElementType is not (GgufValueType.String or GgufValueType.Array or GgufValueType.Bool))
                    sum += v.ElementType is GgufValueType.Float32 or GgufValueType.Float64 ? f.GetFloat32Array(key).Length : f.GetInt32Array(key).Length;
            }
            catch (GgufMetadataException)
            {
                // out-of-range integers are reported, not crashes
            }
        }
        foreach (var t in f.Tensors)
        {
            if (t.ByteSize <= int.MaxValue)
                foreach (var b in f.TensorData(t))
                    sum += b;
            if (t.RowCount > 0)
                sum += f.TensorRow(t, t.RowCount - 1).Length;
        }
        return sum;
    }
}
