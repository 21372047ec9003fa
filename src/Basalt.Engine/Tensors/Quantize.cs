using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Basalt.Engine.Tensors;

/// <summary>Scalar row encoders (for the writer and for activations); callers have checked that <c>dst</c> is exactly the row size.
/// The K-quant encoders pick scales from each sub-block's range rather than searching like ggml's, so they are simpler and slightly less accurate.</summary>
internal static class Quantize
{
    /// <summary>8-bit quantized values (Q8_0, Q8_K) stay within ±Q8Limit, never -128: the sign trick (vpsignb keeps -128) and the
    /// int16 run bounds that the tile and small-batch kernels state in their comments rely on it for activations.</summary>
    public const int Q8Limit = 127;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteHalf(Span<byte> b, int offset, float v) =>
        BinaryPrimitives.WriteUInt16LittleEndian(b[offset..], BitConverter.HalfToUInt16Bits((Half)v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RoundTripHalf(float v) => (float)(Half)v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Round(float v) => (int)MathF.Round(v, MidpointRounding.AwayFromZero);

    public static void F16(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var h = MemoryMarshal.Cast<byte, Half>(dst);
        for (var i = 0; i < src.Length; i++)
            h[i] = (Half)src[i];
    }

    public static void BF16(ReadOnlySpan<float> src, Span<byte> dst)
    {
        var b = MemoryMarshal.Cast<byte, ushort>(dst);
        for (var i = 0; i < src.Length; i++)
            b[i] = FloatToBf16(src[i]);
    }

    /// <summary>bfloat16 of <paramref name="f"/>, rounded to nearest even; NaN stays NaN.</summary>
    public static ushort FloatToBf16(float f)
    {
        var u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000)
            return (ushort)((u >> 16) | 0x40);
        return (ushort)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
    }

    /// <summary>Q8_0: d = max|x| / 127 per block of 32. Also the activation format for Q8_0 and Q4_0 weights.</summary>
    public static void Q8_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (Avx2.IsSupported)
            Q8_0V256(src, dst);
        else
            Q8_0Scalar(src, dst);
    }

    // Activations are quantized on the calling thread before each matmul dispatch while the other threads wait, so this runs vectorized;
    // it writes the same bytes as the scalar reference.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Q8_0V256(ReadOnlySpan<float> src, Span<byte> dst)
    {
        ref var px = ref MemoryMarshal.GetReference(src);
        for (var i = 0; i < src.Length / Q8_0Block.Size; i++)
        {
            var at = (nuint)(i * Q8_0Block.Size);
            var v0 = Vector256.LoadUnsafe(ref px, at);
            var v1 = Vector256.LoadUnsafe(ref px, at + 8);
            var v2 = Vector256.LoadUnsafe(ref px, at + 16);
            var v3 = Vector256.LoadUnsafe(ref px, at + 24);
            var amax = MaxAbs(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3)));
            var d = amax / Q8Limit;
            var id = Vector256.Create(d > 0 ? 1f / d : 0f);
            var blk = dst.Slice(i * Q8_0Block.Bytes, Q8_0Block.Bytes);
            WriteHalf(blk, Q8_0Block.D, d);
            PackBytes(RoundClamp(v0 * id), RoundClamp(v1 * id), RoundClamp(v2 * id), RoundClamp(v3 * id)).CopyTo(blk[Q8_0Block.Qs..]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float MaxAbs(Vector256<float> a, Vector256<float> b)
    {
        var m = Vector256.Max(a, b);
        var m128 = Vector128.Max(m.GetLower(), m.GetUpper());
        m128 = Vector128.Max(m128, Sse.Shuffle(m128, m128, 0b_01_00_11_10));
        m128 = Vector128.Max(m128, Sse.Shuffle(m128, m128, 0b_10_11_00_01));
        return m128.ToScalar();
    }

    // Round half away from zero (as MathF.Round(v, AwayFromZero)), clamp to ±127, as int32 lanes. v − trunc(v) is exact, so the
    // comparison with 0.5 decides exactly as the scalar rounding does.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> RoundClamp(Vector256<float> v)
    {
        var t = Avx.RoundToZero(v);
        var away = Vector256.GreaterThanOrEqual(Vector256.Abs(v - t), Vector256.Create(0.5f));
        var step = (Vector256.Create(1f) | (v & Vector256.Create(-0f))) & away; // ±1 where rounding goes away from zero
        var r = Vector256.ConvertToInt32(t + step);
        return Vector256.Min(Vector256.Max(r, Vector256.Create(-Q8Limit)), Vector256.Create(Q8Limit));
    }

    // 32 int32 lanes (each already in -127..127) to 32 signed bytes in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> PackBytes(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d)
    {
        var ab = Avx2.PackSignedSaturate(a, b); // per 128-bit lane: a.lo b.lo | a.hi b.hi
        var cd = Avx2.PackSignedSaturate(c, d);
        var bytes = Avx2.PackSignedSaturate(ab, cd); // lane order: a.lo b.lo c.lo d.lo | a.hi b.hi c.hi d.hi
        return Avx2.PermuteVar8x32(bytes.AsInt32(), Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)).AsByte();
    }

    internal static void Q8_0Scalar(ReadOnlySpan<float> src, Span<byte> dst)
    {
        for (var i = 0; i < src.Length / Q8_0Block.Size; i++)
        {
            var x = src.Slice(i * Q8_0Block.Size, Q8_0Block.Size);
            var blk = dst.Slice(i * Q8_0Block.Bytes, Q8_0Block.Bytes);
            var amax = 0f;
            foreach (var v in x)
                amax = MathF.Max(amax, MathF.Abs(v));
            var d = amax / Q8Limit;
            var id = d > 0 ? 1f / d : 0f;
            WriteHalf(blk, Q8_0Block.D, d);
            for (var j = 0; j < Q8_0Block.Size; j++)
                blk[Q8_0Block.Qs + j] = (byte)(sbyte)Math.Clamp(Round(x[j] * id), -Q8Limit, Q8Limit);
        }
    }

    /// <summary>Q4_0: the block's largest-magnitude value maps to -8 (ggml's reference rule), the rest round to nearest.</summary>
    public static void Q4_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        for (var i = 0; i < src.Length / Q4_0Block.Size; i++)
        {
            var x = src.Slice(i * Q4_0Block.Size, Q4_0Block.Size);
            var blk = dst.Slice(i * Q4_0Block.Bytes, Q4_0Block.Bytes);
            float amax = 0, max = 0;
            foreach (var v in x)
            {
                if (MathF.Abs(v) > amax)
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }
            var d = max / -8f;
            var id = d != 0 ? 1f / d : 0f;
            WriteHalf(blk, Q4_0Block.D, d);
            for (var j = 0; j < 16; j++)
            {
                var lo = Math.Clamp((int)MathF.Floor(x[j] * id + 8.5f), 0, 15);
                var hi = Math.Clamp((int)MathF.Floor(x[j + 16] * id + 8.5f), 0, 15);
                blk[Q4_0Block.Qs + j] = (byte)(lo | (hi << 4));
            }
        }
    }

    /// <summary>Q5_0: like Q4_0 with 32 levels: the block's largest-magnitude value maps to -16, the rest round to nearest.</summary>
    public static void Q5_0(ReadOnlySpan<float> src, Span<byte> dst)
    {
        for (var i = 0; i < src.Length / Q5_0Block.Size; i++)
        {
            var x = src.Slice(i * Q5_0Block.Size, Q5_0Block.Size);
            var blk = dst.Slice(i * Q5_0Block.Bytes, Q5_0Block.Bytes);
            float amax = 0, max = 0;
            foreach (var v in x)
            {
                if (MathF.Abs(v) > amax)
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }
            var d = max / -16f;
            var id = d != 0 ? 1f / d : 0f;
            WriteHalf(blk, Q5_0Block.D, d);
            Pack5Bit(x, id, 16.5f, blk[Q5_0Block.Qh..], blk[Q5_0Block.Qs..]);
        }
    }

    /// <summary>Q5_1: per block of 32, m = min and d = (max - min) / 31; values round to nearest.</summary>
    public static void Q5_1(ReadOnlySpan<float> src, Span<byte> dst)
    {
        Span<float> shifted = stackalloc float[Q5_1Block.Size];
        for (var i = 0; i < src.Length / Q5_1Block.Size; i++)
        {
            var x = src.Slice(i * Q5_1Block.Size, Q5_1Block.Size);
            var blk = dst.Slice(i * Q5_1Block.Bytes, Q5_1Block.Bytes);
            float min = float.MaxValue, max = float.MinValue;
            foreach (var v in x)
            {
                min = MathF.Min(min, v);
                max = MathF.Max(max, v);
            }
            var d = (max - min) / 31f;
            var id = d != 0 ? 1f / d : 0f;
            WriteHalf(blk, Q5_1Block.D, d);
            WriteHalf(blk, Q5_1Block.M, min);
            for (var j = 0; j < shifted.Length; j++)
                shifted[j] = x[j] - min;
            Pack5Bit(shifted, id, 0.5f, blk[Q5_1Block.Qh..], blk[Q5_1Block.Qs..]);
        }
    }

    // q = clamp(floor(x·id + offset), 0, 31); nibbles into qs (elements j and j+16 share byte j), fifth bits into the 32-bit qh.
    private static void Pack5Bit(ReadOnlySpan<float> x, float id, float offset, Span<byte> qh, Span<byte> qs)
    {
        uint bits = 0;
        for (var j = 0; j < 16; j++)
        {
            var lo = Math.Clamp((int)MathF.Floor(x[j] * id + offset), 0, 31);
            var hi = Math.Clamp((int)MathF.Floor(x[j + 16] * id + offset), 0, 31);
            qs[j] = (byte)((lo & 0xF) | ((hi & 0xF) << 4));
            bits |= (uint)(lo >> 4) << j;
            bits |= (uint)(hi >> 4) << (j + 16);
        }
        BinaryPrimitives.WriteUInt32LittleEndian(qh, bits);
    }

    /// <summary>Packs eight 6-bit scales and mins the way <see cref="Dequantize.ScaleMinK4"/> reads them.</summary>
    internal static void PackScaleMinK4(ReadOnlySpan<int> scales, ReadOnlySpan<int> mins, Span<byte> q)
    {
        q[..Q4KBlock.ScaleBytes].Clear();
        for (var j = 0; j < 8; j++)
        {
            int sc = scales[j], m = mins[j];
            if (j < 4)
            {
                q[j] |= (byte)sc;
                q[j + 4] |= (byte)m;
            }
            else
            {
                q[j + 4] = (byte)((sc & 0xF) | ((m & 0xF) << 4));
                q[j - 4] |= (byte)((sc >> 4) << 6);
                q[j] |= (byte)((m >> 4) << 6);
            }
        }
    }

    /// <summary>Shared by Q4_K (maxQ 15) and Q5_K (maxQ 31): per 32-weight sub-block, scale = range / maxQ and min = -min(0, lowest),
    /// both quantized to 6 bits against the super-block's d and dmin. Writes d, dmin and scales; fills <paramref name="q"/> with 0..maxQ.</summary>
    private static void KQuantAffine(ReadOnlySpan<float> x, Span<byte> blk, int maxQ, Span<int> q)
    {
        Span<float> scale = stackalloc float[8];
        Span<float> min = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (var s = 0; s < 8; s++)
        {
            var sub = x.Slice(32 * s, 32);
            float lo = 0, hi = float.MinValue;
            foreach (var v in sub)
            {
                lo = MathF.Min(lo, v);
                hi = MathF.Max(hi, v);
            }
            scale[s] = (hi - lo) / maxQ;
            min[s] = -lo;
            maxScale = MathF.Max(maxScale, scale[s]);
            maxMin = MathF.Max(maxMin, min[s]);
        }
        var d = RoundTripHalf(maxScale / 63f);
        var dmin = RoundTripHalf(maxMin / 63f);
        Span<int> sc = stackalloc int[8];
        Span<int> mn = stackalloc int[8];
        for (var s = 0; s < 8; s++)
        {
            sc[s] = d > 0 ? Math.Clamp(Round(scale[s] / d), 0, 63) : 0;
            mn[s] = dmin > 0 ? Math.Clamp(Round(min[s] / dmin), 0, 63) : 0;
        }
        WriteHalf(blk, Q4KBlock.D, d);
        WriteHalf(blk, Q4KBlock.DMin, dmin);
        PackScaleMinK4(sc, mn, blk.Slice(Q4KBlock.Scales, Q4KBlock.ScaleBytes));
        for (var s = 0; s < 8; s++)
        {
            var step = d * sc[s];
            var offset = dmin * mn[s];
            var inv = step > 0 ? 1f / step : 0f;
            for (var l = 0; l < 32; l++)
                q[32 * s + l] = Math.Clamp(Round((x[32 * s + l] + offset) * inv), 0, maxQ);
        }
    }

    public static void Q4_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        Span<int> q = stackalloc int[Q4KBlock.Size];
        for (var i = 0; i < src.Length / Q4KBlock.Size; i++)
        {
            var blk = dst.Slice(i * Q4KBlock.Bytes, Q4KBlock.Bytes);
            KQuantAffine(src.Slice(i * Q4KBlock.Size, Q4KBlock.Size), blk, 15, q);
            for (var c = 0; c < 4; c++)
                for (var l = 0; l < 32; l++)
                    blk[Q4KBlock.Qs + 32 * c + l] = (byte)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
        }
    }

    public static void Q5_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        Span<int> q = stackalloc int[Q5KBlock.Size];
        for (var i = 0; i < src.Length / Q5KBlock.Size; i++)
        {
            var blk = dst.Slice(i * Q5KBlock.Bytes, Q5KBlock.Bytes);
            KQuantAffine(src.Slice(i * Q5KBlock.Size, Q5KBlock.Size), blk, 31, q);
            var qh = blk.Slice(Q5KBlock.Qh, 32);
            qh.Clear();
            for (var c = 0; c < 4; c++)
            {
                for (var l = 0; l < 32; l++)
                {
                    int a = q[64 * c + l], b = q[64 * c + 32 + l];
                    blk[Q5KBlock.Qs + 32 * c + l] = (byte)((a & 0xF) | ((b & 0xF) << 4));
                    qh[l] |= (byte)(((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1)));
                }
            }
        }
    }

    /// <summary>Q6_K: per 16-weight sub-block a symmetric scale max|x| / 31, quantized to int8 against the super-block's d.</summary>
    public static void Q6_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        Span<float> scale = stackalloc float[16];
        for (var i = 0; i < src.Length / Q6KBlock.Size; i++)
        {
            var x = src.Slice(i * Q6KBlock.Size, Q6KBlock.Size);
            var blk = dst.Slice(i * Q6KBlock.Bytes, Q6KBlock.Bytes);
            var maxScale = 0f;
            for (var s = 0; s < 16; s++)
            {
                var amax = 0f;
                foreach (var v in x.Slice(16 * s, 16))
                    amax = MathF.Max(amax, MathF.Abs(v));
                scale[s] = amax / 31f;
                maxScale = MathF.Max(maxScale, scale[s]);
            }
            var d = RoundTripHalf(maxScale / 127f);
            WriteHalf(blk, Q6KBlock.D, d);
            blk[..Q6KBlock.Scales].Clear();
            for (var s = 0; s < 16; s++)
            {
                var sc = d > 0 ? Math.Clamp(Round(scale[s] / d), -128, 127) : 0;
                blk[Q6KBlock.Scales + s] = (byte)(sbyte)sc;
                var step = d * sc;
                var inv = step != 0 ? 1f / step : 0f;
                for (var l = 0; l < 16; l++)
                {
                    var e = 16 * s + l;
                    var q = Math.Clamp(Round(x[e] * inv), -32, 31) + 32;
                    int n = e >> 7, k = (e >> 5) & 3, j = e & 31;
                    var qlAt = Q6KBlock.Ql + 64 * n + 32 * (k & 1) + j;
                    blk[qlAt] |= (byte)(k < 2 ? q & 0xF : (q & 0xF) << 4);
                    blk[Q6KBlock.Qh + 32 * n + j] |= (byte)((q >> 4) << (2 * k));
                }
            }
        }
    }

    /// <summary>Q8_K activations: per 256 values d = max|x| / 127 (as float) and the sums of each 16 quantized values.</summary>
    public static void Q8_K(ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (Avx2.IsSupported)
            Q8_KV256(src, dst);
        else
            Q8_KScalar(src, dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Q8_KV256(ReadOnlySpan<float> src, Span<byte> dst)
    {
        ref var px = ref MemoryMarshal.GetReference(src);
        for (var i = 0; i < src.Length / Q8KBlock.Size; i++)
        {
            var at = (nuint)(i * Q8KBlock.Size);
            var m = Vector256<float>.Zero;
            for (nuint k = 0; k < Q8KBlock.Size; k += 8)
                m = Vector256.Max(m, Vector256.Abs(Vector256.LoadUnsafe(ref px, at + k)));
            var amax = MaxAbs(m, m);
            var d = amax / Q8Limit;
            var id = Vector256.Create(d > 0 ? 1f / d : 0f);
            var blk = dst.Slice(i * Q8KBlock.Bytes, Q8KBlock.Bytes);
            BinaryPrimitives.WriteSingleLittleEndian(blk[Q8KBlock.D..], d);
            for (var g = 0; g < 8; g++)
            {
                var o = at + (nuint)(32 * g);
                var q0 = RoundClamp(Vector256.LoadUnsafe(ref px, o) * id);
                var q1 = RoundClamp(Vector256.LoadUnsafe(ref px, o + 8) * id);
                var q2 = RoundClamp(Vector256.LoadUnsafe(ref px, o + 16) * id);
                var q3 = RoundClamp(Vector256.LoadUnsafe(ref px, o + 24) * id);
                PackBytes(q0, q1, q2, q3).CopyTo(blk[(Q8KBlock.Qs + 32 * g)..]);
                BinaryPrimitives.WriteInt16LittleEndian(blk[(Q8KBlock.BSums + 4 * g)..], (short)Vector256.Sum(q0 + q1));
                BinaryPrimitives.WriteInt16LittleEndian(blk[(Q8KBlock.BSums + 4 * g + 2)..], (short)Vector256.Sum(q2 + q3));
            }
        }
    }

    internal static void Q8_KScalar(ReadOnlySpan<float> src, Span<byte> dst)
    {
        for (var i = 0; i < src.Length / Q8KBlock.Size; i++)
        {
            var x = src.Slice(i * Q8KBlock.Size, Q8KBlock.Size);
            var blk = dst.Slice(i * Q8KBlock.Bytes, Q8KBlock.Bytes);
            var amax = 0f;
            foreach (var v in x)
                amax = MathF.Max(amax, MathF.Abs(v));
            var d = amax / Q8Limit;
            var id = d > 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteSingleLittleEndian(blk[Q8KBlock.D..], d);
            for (var s = 0; s < 16; s++)
            {
                var sum = 0;
                for (var l = 0; l < 16; l++)
                {
                    var q = Math.Clamp(Round(x[16 * s + l] * id), -Q8Limit, Q8Limit);
                    blk[Q8KBlock.Qs + 16 * s + l] = (byte)(sbyte)q;
                    sum += q;
                }
                BinaryPrimitives.WriteInt16LittleEndian(blk[(Q8KBlock.BSums + 2 * s)..], (short)sum);
            }
        }
    }
}
