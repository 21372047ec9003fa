using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Basalt.Engine.Tensors;

/// <summary>Scalar row decoders; callers have checked that <c>row</c> holds exactly <c>dst.Length</c> elements.</summary>
internal static class Dequantize
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ReadHalf(ReadOnlySpan<byte> b, int offset) => HalfBits.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b[offset..]));

    /// <summary>Decodes the 6-bit scale and min of sub-block <paramref name="j"/> (0..7) from the 12 packed bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleMinK4(int j, ReadOnlySpan<byte> q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    public static void BF16(ReadOnlySpan<byte> row, Span<float> dst)
    {
        var b = MemoryMarshal.Cast<byte, ushort>(row);
        for (var i = 0; i < dst.Length; i++)
            dst[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
    }

    public static void Q8_0(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q8_0Block.Size; i++)
        {
            var blk = row.Slice(i * Q8_0Block.Bytes, Q8_0Block.Bytes);
            var d = ReadHalf(blk, Q8_0Block.D);
            var y = dst.Slice(i * Q8_0Block.Size, Q8_0Block.Size);
            for (var j = 0; j < Q8_0Block.Size; j++)
                y[j] = d * (sbyte)blk[Q8_0Block.Qs + j];
        }
    }

    public static void Q4_0(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q4_0Block.Size; i++)
        {
            var blk = row.Slice(i * Q4_0Block.Bytes, Q4_0Block.Bytes);
            var d = ReadHalf(blk, Q4_0Block.D);
            var y = dst.Slice(i * Q4_0Block.Size, Q4_0Block.Size);
            for (var j = 0; j < 16; j++)
            {
                var q = blk[Q4_0Block.Qs + j];
                y[j] = d * ((q & 0xF) - 8);
                y[j + 16] = d * ((q >> 4) - 8);
            }
        }
    }

    /// <summary>Fifth bits of a Q5_0/Q5_1 block: bit e belongs to element e.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Q5Value(ReadOnlySpan<byte> blk, int qs, uint qh, int e) =>
        (e < 16 ? blk[qs + e] & 0xF : blk[qs + e - 16] >> 4) | (int)(((qh >> e) & 1) << 4);

    public static void Q5_0(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q5_0Block.Size; i++)
        {
            var blk = row.Slice(i * Q5_0Block.Bytes, Q5_0Block.Bytes);
            var d = ReadHalf(blk, Q5_0Block.D);
            var qh = BinaryPrimitives.ReadUInt32LittleEndian(blk[Q5_0Block.Qh..]);
            var y = dst.Slice(i * Q5_0Block.Size, Q5_0Block.Size);
            for (var e = 0; e < Q5_0Block.Size; e++)
                y[e] = d * (Q5Value(blk, Q5_0Block.Qs, qh, e) - 16);
        }
    }

    public static void Q5_1(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q5_1Block.Size; i++)
        {
            var blk = row.Slice(i * Q5_1Block.Bytes, Q5_1Block.Bytes);
            var d = ReadHalf(blk, Q5_1Block.D);
            var m = ReadHalf(blk, Q5_1Block.M);
            var qh = BinaryPrimitives.ReadUInt32LittleEndian(blk[Q5_1Block.Qh..]);
            var y = dst.Slice(i * Q5_1Block.Size, Q5_1Block.Size);
            for (var e = 0; e < Q5_1Block.Size; e++)
                y[e] = d * Q5Value(blk, Q5_1Block.Qs, qh, e) + m;
        }
    }

    public static void Q4_K(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q4KBlock.Size; i++)
        {
            var blk = row.Slice(i * Q4KBlock.Bytes, Q4KBlock.Bytes);
            var d = ReadHalf(blk, Q4KBlock.D);
            var dmin = ReadHalf(blk, Q4KBlock.DMin);
            var scales = blk.Slice(Q4KBlock.Scales, Q4KBlock.ScaleBytes);
            var qs = blk[Q4KBlock.Qs..];
            var y = dst.Slice(i * Q4KBlock.Size, Q4KBlock.Size);
            for (var c = 0; c < 4; c++)
            {
                ScaleMinK4(2 * c, scales, out var sc0, out var m0);
                ScaleMinK4(2 * c + 1, scales, out var sc1, out var m1);
                float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
                for (var l = 0; l < 32; l++)
                {
                    var q = qs[32 * c + l];
                    y[64 * c + l] = d0 * (q & 0xF) - min0;
                    y[64 * c + 32 + l] = d1 * (q >> 4) - min1;
                }
            }
        }
    }

    public static void Q5_K(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q5KBlock.Size; i++)
        {
            var blk = row.Slice(i * Q5KBlock.Bytes, Q5KBlock.Bytes);
            var d = ReadHalf(blk, Q5KBlock.D);
            var dmin = ReadHalf(blk, Q5KBlock.DMin);
            var scales = blk.Slice(Q5KBlock.Scales, Q4KBlock.ScaleBytes);
            var qh = blk.Slice(Q5KBlock.Qh, 32);
            var qs = blk[Q5KBlock.Qs..];
            var y = dst.Slice(i * Q5KBlock.Size, Q5KBlock.Size);
            for (var c = 0; c < 4; c++)
            {
                ScaleMinK4(2 * c, scales, out var sc0, out var m0);
                ScaleMinK4(2 * c + 1, scales, out var sc1, out var m1);
                float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
                for (var l = 0; l < 32; l++)
                {
                    var q = qs[32 * c + l];
                    var h0 = (qh[l] >> (2 * c)) & 1;
                    var h1 = (qh[l] >> (2 * c + 1)) & 1;
                    y[64 * c + l] = d0 * ((q & 0xF) | (h0 << 4)) - min0;
                    y[64 * c + 32 + l] = d1 * ((q >> 4) | (h1 << 4)) - min1;
                }
            }
        }
    }

    /// <summary>The 6-bit value (0..63) of element <paramref name="e"/> (0..255) of a Q6_K block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Q6KValue(ReadOnlySpan<byte> blk, int e)
    {
        int n = e >> 7, k = (e >> 5) & 3, l = e & 31;
        var ql = blk[Q6KBlock.Ql + 64 * n + 32 * (k & 1) + l];
        var low = k < 2 ? ql & 0xF : ql >> 4;
        var high = (blk[Q6KBlock.Qh + 32 * n + l] >> (2 * k)) & 3;
        return low | (high << 4);
    }

    public static void Q6_K(ReadOnlySpan<byte> row, Span<float> dst)
    {
        for (var i = 0; i < dst.Length / Q6KBlock.Size; i++)
        {
            var blk = row.Slice(i * Q6KBlock.Bytes, Q6KBlock.Bytes);
            var d = ReadHalf(blk, Q6KBlock.D);
            var y = dst.Slice(i * Q6KBlock.Size, Q6KBlock.Size);
            for (var e = 0; e < Q6KBlock.Size; e++)
                y[e] = d * (sbyte)blk[Q6KBlock.Scales + e / Q6KBlock.SubBlockSize] * (Q6KValue(blk, e) - 32);
        }
    }
}
