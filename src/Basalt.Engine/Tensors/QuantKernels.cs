using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Basalt.Engine.Tensors;

/// <summary>Integer dot products of quantized weight rows with activations quantized to Q8 blocks (Q8_0 for Q8_0/Q4_0, Q8_K for the K-quants).
/// Each has an AVX-512BW path (two legacy blocks or one 64-weight chunk per step), an AVX2 path (u8×s8 multiply-adds), and a scalar path
/// that is also the reference the tests compare against. Callers pass rows of exactly <c>blocks</c> blocks.</summary>
internal static partial class QuantKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half(ref byte p, int offset) => HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Single(ref byte p, int offset) => Unsafe.ReadUnaligned<float>(ref Unsafe.Add(ref p, offset));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static short Int16(ref byte p, int offset) => Unsafe.ReadUnaligned<short>(ref Unsafe.Add(ref p, offset));

    private static bool UseV512 => Avx512BW.IsSupported;
    private static bool UseV256 => Avx2.IsSupported;

    // Sums of products of signed bytes in groups of four: the sign trick makes the left operand unsigned for vpmaddubsw.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MulSumI8(Vector256<sbyte> x, Vector256<sbyte> y)
    {
        var dot = Avx2.MultiplyAddAdjacent(Avx2.Abs(x), Avx2.Sign(y, x));
        return Avx2.MultiplyAddAdjacent(dot, Vector256<short>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> MulSumI8(Vector512<sbyte> x, Vector512<sbyte> y)
    {
        var sy = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<sbyte>.Zero), -y, y);
        var dot = Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(x), sy);
        return Avx512BW.MultiplyAddAdjacent(dot, Vector512<short>.One);
    }

    // ================= Q8_0 · Q8_0 =================

    public static float DotQ8_0(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ8_0V512(w, x, blocks) : UseV256 ? DotQ8_0V256(w, x, blocks) : DotQ8_0Scalar(w, x, blocks);

    internal static float DotQ8_0Scalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            var o = b * Q8_0Block.Bytes;
            var s = 0;
            for (var j = 0; j < Q8_0Block.Size; j++)
                s += (sbyte)w[o + Q8_0Block.Qs + j] * (sbyte)x[o + Q8_0Block.Qs + j];
            sum += Half(ref pw, o) * Half(ref px, o) * s;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotQ8_0V512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var acc = Vector512<float>.Zero;
        var b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            int o0 = b * Q8_0Block.Bytes, o1 = o0 + Q8_0Block.Bytes;
            var qw = Vector512.Create(Vector256.LoadUnsafe(ref pw, (nuint)(o0 + Q8_0Block.Qs)), Vector256.LoadUnsafe(ref pw, (nuint)(o1 + Q8_0Block.Qs))).AsSByte();
            var qx = Vector512.Create(Vector256.LoadUnsafe(ref px, (nuint)(o0 + Q8_0Block.Qs)), Vector256.LoadUnsafe(ref px, (nuint)(o1 + Q8_0Block.Qs))).AsSByte();
            var d = Vector512.Create(Vector256.Create(Half(ref pw, o0) * Half(ref px, o0)), Vector256.Create(Half(ref pw, o1) * Half(ref px, o1)));
            acc = Vector512.FusedMultiplyAdd(d, Vector512.ConvertToSingle(MulSumI8(qw, qx)), acc);
        }
        var sum = Vector512.Sum(acc);
        if (b < blocks)
            sum += DotQ8_0Scalar(w[(b * Q8_0Block.Bytes)..], x[(b * Q8_0Block.Bytes)..], 1);
        return sum;
    }

    // ================= Q4_0 · Q8_0 =================

    public static float DotQ4_0(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ4_0V512(w, x, blocks) : UseV256 ? DotQ4_0V256(w, x, blocks) : DotQ4_0Scalar(w, x, blocks);

    internal static float DotQ4_0Scalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q4_0Block.Bytes, ox = b * Q8_0Block.Bytes;
            var s = 0;
            for (var j = 0; j < 16; j++)
            {
                var q = w[ow + Q4_0Block.Qs + j];
                s += ((q & 0xF) - 8) * (sbyte)x[ox + Q8_0Block.Qs + j] + ((q >> 4) - 8) * (sbyte)x[ox + Q8_0Block.Qs + 16 + j];
            }
            sum += Half(ref pw, ow) * Half(ref px, ox) * s;
        }
        return sum;
    }

    // 16 packed bytes → 32 signed values in element order: low nibbles (elements 0..15), then high nibbles (16..31), minus 8.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> UnpackQ4_0(ref byte p, int offset)
    {
        var raw = Vector128.LoadUnsafe(ref p, (nuint)offset);
        var mask = Vector128.Create((byte)0x0F);
        var lo = raw & mask;
        var hi = Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask;
        return (Vector256.Create(lo, hi) - Vector256.Create((byte)8)).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotQ4_0V512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var acc = Vector512<float>.Zero;
        var b = 0;
        for (; b + 1 < blocks; b += 2)
        {
            int ow0 = b * Q4_0Block.Bytes, ow1 = ow0 + Q4_0Block.Bytes, ox0 = b * Q8_0Block.Bytes, ox1 = ox0 + Q8_0Block.Bytes;
            var qw = Vector512.Create(UnpackQ4_0(ref pw, ow0 + Q4_0Block.Qs), UnpackQ4_0(ref pw, ow1 + Q4_0Block.Qs));
            var qx = Vector512.Create(Vector256.LoadUnsafe(ref px, (nuint)(ox0 + Q8_0Block.Qs)), Vector256.LoadUnsafe(ref px, (nuint)(ox1 + Q8_0Block.Qs))).AsSByte();
            var d = Vector512.Create(Vector256.Create(Half(ref pw, ow0) * Half(ref px, ox0)), Vector256.Create(Half(ref pw, ow1) * Half(ref px, ox1)));
            acc = Vector512.FusedMultiplyAdd(d, Vector512.ConvertToSingle(MulSumI8(qw, qx)), acc);
        }
        var sum = Vector512.Sum(acc);
        if (b < blocks)
            sum += DotQ4_0Scalar(w[(b * Q4_0Block.Bytes)..], x[(b * Q8_0Block.Bytes)..], 1);
        return sum;
    }

    // ================= Q5_0 / Q5_1 · Q8_0 =================

    // The five-bit value (0..31) of element e of a Q5_0/Q5_1 block whose qs and qh start at the given offsets.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Q5Value(ReadOnlySpan<byte> w, int qs, int qh, int e)
    {
        var nibble = e < 16 ? w[qs + e] & 0xF : w[qs + e - 16] >> 4;
        var bits = BinaryPrimitives.ReadUInt32LittleEndian(w[qh..]);
        return nibble | (int)(((bits >> e) & 1) << 4);
    }

    public static float DotQ5_0(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ5_0V512(w, x, blocks) : UseV256 ? DotQ5_0V256(w, x, blocks) : DotQ5_0Scalar(w, x, blocks);

    internal static float DotQ5_0Scalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q5_0Block.Bytes, ox = b * Q8_0Block.Bytes;
            var s = 0;
            for (var e = 0; e < Q5_0Block.Size; e++)
                s += (Q5Value(w, ow + Q5_0Block.Qs, ow + Q5_0Block.Qh, e) - 16) * (sbyte)x[ox + Q8_0Block.Qs + e];
            sum += Half(ref pw, ow + Q5_0Block.D) * Half(ref px, ox) * s;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ5_0V512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        const int B = Q5_0Block.Bytes, X = Q8_0Block.Bytes;
        fixed (byte* pw = w, px = x)
        {
            var acc = Vector512<float>.Zero;
            var b = 0;
            for (; b + 1 < blocks; b += 2)
            {
                byte* bw = pw + b * B, bx = px + b * X;
                var qw = Vector512.Create(Unpack5Bit(bw + Q5_0Block.Qs, bw + Q5_0Block.Qh), Unpack5Bit(bw + B + Q5_0Block.Qs, bw + B + Q5_0Block.Qh)) - Vector512.Create((byte)16);
                var qx = Vector512.Create(Vector256.Load(bx + Q8_0Block.Qs), Vector256.Load(bx + X + Q8_0Block.Qs)).AsSByte();
                var d = Vector512.Create(Vector256.Create(HalfAt(bw) * HalfAt(bx)), Vector256.Create(HalfAt(bw + B) * HalfAt(bx + X)));
                acc = Vector512.FusedMultiplyAdd(d, Vector512.ConvertToSingle(MulSumI8(qw.AsSByte(), qx)), acc);
            }
            var sum = Vector512.Sum(acc);
            if (b < blocks)
                sum += DotQ5_0Scalar(w[(b * B)..], x[(b * X)..], 1);
            return sum;
        }
    }

    public static float DotQ5_1(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ5_1V512(w, x, blocks) : UseV256 ? DotQ5_1V256(w, x, blocks) : DotQ5_1Scalar(w, x, blocks);

    internal static float DotQ5_1Scalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q5_1Block.Bytes, ox = b * Q8_0Block.Bytes;
            int s = 0, sx = 0;
            for (var e = 0; e < Q5_1Block.Size; e++)
            {
                var q = (sbyte)x[ox + Q8_0Block.Qs + e];
                s += Q5Value(w, ow + Q5_1Block.Qs, ow + Q5_1Block.Qh, e) * q;
                sx += q;
            }
            var dx = Half(ref px, ox);
            sum += Half(ref pw, ow + Q5_1Block.D) * dx * s + Half(ref pw, ow + Q5_1Block.M) * dx * sx;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ5_1V512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        const int B = Q5_1Block.Bytes, X = Q8_0Block.Bytes;
        fixed (byte* pw = w, px = x)
        {
            var acc = Vector512<float>.Zero;
            var b = 0;
            for (; b + 1 < blocks; b += 2)
            {
                byte* bw = pw + b * B, bx = px + b * X;
                var qw = Vector512.Create(Unpack5Bit(bw + Q5_1Block.Qs, bw + Q5_1Block.Qh), Unpack5Bit(bw + B + Q5_1Block.Qs, bw + B + Q5_1Block.Qh));
                var qx = Vector512.Create(Vector256.Load(bx + Q8_0Block.Qs), Vector256.Load(bx + X + Q8_0Block.Qs)).AsSByte();
                var dots = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(qw, qx), Vector512<short>.One);
                var sums = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512<byte>.One, qx), Vector512<short>.One);
                float dx0 = HalfAt(bx), dx1 = HalfAt(bx + X);
                var d = Vector512.Create(Vector256.Create(HalfAt(bw + Q5_1Block.D) * dx0), Vector256.Create(HalfAt(bw + B + Q5_1Block.D) * dx1));
                var m = Vector512.Create(Vector256.Create(HalfAt(bw + Q5_1Block.M) * dx0), Vector256.Create(HalfAt(bw + B + Q5_1Block.M) * dx1));
                acc = Vector512.FusedMultiplyAdd(d, Vector512.ConvertToSingle(dots), acc);
                acc = Vector512.FusedMultiplyAdd(m, Vector512.ConvertToSingle(sums), acc);
            }
            var sum = Vector512.Sum(acc);
            if (b < blocks)
                sum += DotQ5_1Scalar(w[(b * B)..], x[(b * X)..], 1);
            return sum;
        }
    }

    // ================= Q4_K / Q5_K · Q8_K =================

    // The mins' contribution: Σ_s min[s] · (sum of the activations of sub-block s), read from the Q8_K 16-element sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int DecodeScalesK4(ReadOnlySpan<byte> packed, Span<short> scales, ref byte px, int ox)
    {
        var summ = 0;
        for (var s = 0; s < 8; s++)
        {
            Dequantize.ScaleMinK4(s, packed, out var sc, out var m);
            scales[s] = (short)sc;
            summ += m * (Int16(ref px, ox + Q8KBlock.BSums + 4 * s) + Int16(ref px, ox + Q8KBlock.BSums + 4 * s + 2));
        }
        return summ;
    }

    public static float DotQ4_K(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ4_KV512(w, x, blocks) : UseV256 ? DotQ4_KV256(w, x, blocks) : DotQ4_KScalar(w, x, blocks);

    internal static float DotQ4_KScalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q4KBlock.Bytes, ox = b * Q8KBlock.Bytes;
            var packed = w.Slice(ow + Q4KBlock.Scales, Q4KBlock.ScaleBytes);
            int sumi = 0, summ = 0;
            for (var s = 0; s < 8; s++)
            {
                Dequantize.ScaleMinK4(s, packed, out var sc, out var m);
                var dot = 0;
                for (var l = 0; l < 32; l++)
                {
                    var q = w[ow + Q4KBlock.Qs + 32 * (s >> 1) + l];
                    var v = (s & 1) == 0 ? q & 0xF : q >> 4;
                    dot += v * (sbyte)x[ox + Q8KBlock.Qs + 32 * s + l];
                }
                sumi += sc * dot;
                summ += m * (Int16(ref px, ox + Q8KBlock.BSums + 4 * s) + Int16(ref px, ox + Q8KBlock.BSums + 4 * s + 2));
            }
            var dx = Single(ref px, ox + Q8KBlock.D);
            sum += Half(ref pw, ow + Q4KBlock.D) * dx * sumi - Half(ref pw, ow + Q4KBlock.DMin) * dx * summ;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotQ4_KV512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        Span<short> sc = stackalloc short[8];
        var acc = Vector512<float>.Zero;
        var mins = 0f;
        var m4 = Vector256.Create((byte)0x0F);
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q4KBlock.Bytes, ox = b * Q8KBlock.Bytes;
            var summ = DecodeScalesK4(w.Slice(ow + Q4KBlock.Scales, Q4KBlock.ScaleBytes), sc, ref px, ox);
            var sumi = Vector512<int>.Zero;
            for (var c = 0; c < 4; c++)
            {
                var q = Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q4KBlock.Qs + 32 * c));
                var v = Vector512.Create(q & m4, Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4);
                var a = Vector512.LoadUnsafe(ref px, (nuint)(ox + Q8KBlock.Qs + 64 * c)).AsSByte();
                var scales = Vector512.Create(Vector256.Create(sc[2 * c]), Vector256.Create(sc[2 * c + 1]));
                sumi += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(v, a), scales);
            }
            var dx = Single(ref px, ox + Q8KBlock.D);
            acc = Vector512.FusedMultiplyAdd(Vector512.Create(Half(ref pw, ow + Q4KBlock.D) * dx), Vector512.ConvertToSingle(sumi), acc);
            mins += Half(ref pw, ow + Q4KBlock.DMin) * dx * summ;
        }
        return Vector512.Sum(acc) - mins;
    }

    public static float DotQ5_K(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ5_KV512(w, x, blocks) : UseV256 ? DotQ5_KV256(w, x, blocks) : DotQ5_KScalar(w, x, blocks);

    internal static float DotQ5_KScalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q5KBlock.Bytes, ox = b * Q8KBlock.Bytes;
            var packed = w.Slice(ow + Q5KBlock.Scales, Q4KBlock.ScaleBytes);
            int sumi = 0, summ = 0;
            for (var s = 0; s < 8; s++)
            {
                Dequantize.ScaleMinK4(s, packed, out var sc, out var m);
                var dot = 0;
                for (var l = 0; l < 32; l++)
                {
                    var q = w[ow + Q5KBlock.Qs + 32 * (s >> 1) + l];
                    var v = ((s & 1) == 0 ? q & 0xF : q >> 4) | (((w[ow + Q5KBlock.Qh + l] >> s) & 1) << 4);
                    dot += v * (sbyte)x[ox + Q8KBlock.Qs + 32 * s + l];
                }
                sumi += sc * dot;
                summ += m * (Int16(ref px, ox + Q8KBlock.BSums + 4 * s) + Int16(ref px, ox + Q8KBlock.BSums + 4 * s + 2));
            }
            var dx = Single(ref px, ox + Q8KBlock.D);
            sum += Half(ref pw, ow + Q5KBlock.D) * dx * sumi - Half(ref pw, ow + Q5KBlock.DMin) * dx * summ;
        }
        return sum;
    }

    // The 5-bit values of one 64-weight chunk c: low nibbles plus bit 2c of qh, high nibbles plus bit 2c+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<byte> Lo, Vector256<byte> Hi) UnpackQ5K(ref byte pw, int ow, Vector256<byte> qh, int c)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)16);
        var q = Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q5KBlock.Qs + 32 * c));
        var bit0 = Vector256.Create((byte)(1 << (2 * c)));
        var bit1 = Vector256.Create((byte)(2 << (2 * c)));
        var lo = (q & m4) | (Vector256.Equals(qh & bit0, bit0) & sixteen);
        var hi = (Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4) | (Vector256.Equals(qh & bit1, bit1) & sixteen);
        return (lo, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotQ5_KV512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        Span<short> sc = stackalloc short[8];
        var acc = Vector512<float>.Zero;
        var mins = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q5KBlock.Bytes, ox = b * Q8KBlock.Bytes;
            var summ = DecodeScalesK4(w.Slice(ow + Q5KBlock.Scales, Q4KBlock.ScaleBytes), sc, ref px, ox);
            var qh = Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q5KBlock.Qh));
            var sumi = Vector512<int>.Zero;
            for (var c = 0; c < 4; c++)
            {
                var (lo, hi) = UnpackQ5K(ref pw, ow, qh, c);
                var a = Vector512.LoadUnsafe(ref px, (nuint)(ox + Q8KBlock.Qs + 64 * c)).AsSByte();
                var scales = Vector512.Create(Vector256.Create(sc[2 * c]), Vector256.Create(sc[2 * c + 1]));
                sumi += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(lo, hi), a), scales);
            }
            var dx = Single(ref px, ox + Q8KBlock.D);
            acc = Vector512.FusedMultiplyAdd(Vector512.Create(Half(ref pw, ow + Q5KBlock.D) * dx), Vector512.ConvertToSingle(sumi), acc);
            mins += Half(ref pw, ow + Q5KBlock.DMin) * dx * summ;
        }
        return Vector512.Sum(acc) - mins;
    }

    // ================= Q6_K · Q8_K =================

    public static float DotQ6_K(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) =>
        UseV512 ? DotQ6_KV512(w, x, blocks) : UseV256 ? DotQ6_KV256(w, x, blocks) : DotQ6_KScalar(w, x, blocks);

    internal static float DotQ6_KScalar(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q6KBlock.Bytes, ox = b * Q8KBlock.Bytes;
            var blk = w.Slice(ow, Q6KBlock.Bytes);
            var sumi = 0;
            for (var s = 0; s < 16; s++)
            {
                var dot = 0;
                for (var l = 0; l < 16; l++)
                {
                    var e = 16 * s + l;
                    dot += (Dequantize.Q6KValue(blk, e) - 32) * (sbyte)x[ox + Q8KBlock.Qs + e];
                }
                sumi += (sbyte)blk[Q6KBlock.Scales + s] * dot;
            }
            sum += Half(ref pw, ow + Q6KBlock.D) * Single(ref px, ox + Q8KBlock.D) * sumi;
        }
        return sum;
    }

    // The four 32-weight groups (k = 0..3) of half n as unsigned 6-bit values 0..63.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<byte>, Vector256<byte>, Vector256<byte>, Vector256<byte>) UnpackQ6K(ref byte pw, int ow, int n)
    {
        var m4 = Vector256.Create((byte)0x0F);
        var m2 = Vector256.Create((byte)0x30);
        var qa = Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q6KBlock.Ql + 64 * n));
        var qb = Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q6KBlock.Ql + 64 * n + 32));
        var qh = Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q6KBlock.Qh + 32 * n));
        var h16 = qh.AsUInt16();
        var v0 = (qa & m4) | (Vector256.ShiftLeft(h16, 4).AsByte() & m2);
        var v1 = (qb & m4) | (Vector256.ShiftLeft(h16, 2).AsByte() & m2);
        var v2 = (Vector256.ShiftRightLogical(qa.AsUInt16(), 4).AsByte() & m4) | (qh & m2);
        var v3 = (Vector256.ShiftRightLogical(qb.AsUInt16(), 4).AsByte() & m4) | (Vector256.ShiftRightLogical(h16, 2).AsByte() & m2);
        return (v0, v1, v2, v3);
    }

    // Σ_s scale[s] · bsum[s]: removes the +32 offset of the stored values in one step.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Q6KOffsetCorrection(ref byte pw, int ow, ref byte px, int ox)
    {
        var corr = 0;
        for (var s = 0; s < 16; s++)
            corr += (sbyte)Unsafe.Add(ref pw, ow + Q6KBlock.Scales + s) * Int16(ref px, ox + Q8KBlock.BSums + 2 * s);
        return 32 * corr;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> ScalePair(ref byte pw, int at) =>
        Vector256.Create(Vector128.Create((short)(sbyte)Unsafe.Add(ref pw, at)), Vector128.Create((short)(sbyte)Unsafe.Add(ref pw, at + 1)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotQ6_KV512(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var acc = Vector512<float>.Zero;
        var offsets = 0f;
        for (var b = 0; b < blocks; b++)
        {
            int ow = b * Q6KBlock.Bytes, ox = b * Q8KBlock.Bytes;
            var sumi = Vector512<int>.Zero;
            for (var n = 0; n < 2; n++)
            {
                var (v0, v1, v2, v3) = UnpackQ6K(ref pw, ow, n);
                var xa = ox + Q8KBlock.Qs + 128 * n;
                var sa = ow + Q6KBlock.Scales + 8 * n;
                var s01 = Vector512.Create(ScalePair(ref pw, sa), ScalePair(ref pw, sa + 2));
                var s23 = Vector512.Create(ScalePair(ref pw, sa + 4), ScalePair(ref pw, sa + 6));
                sumi += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(v0, v1), Vector512.LoadUnsafe(ref px, (nuint)xa).AsSByte()), s01);
                sumi += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(v2, v3), Vector512.LoadUnsafe(ref px, (nuint)(xa + 64)).AsSByte()), s23);
            }
            var d = Half(ref pw, ow + Q6KBlock.D) * Single(ref px, ox + Q8KBlock.D);
            acc = Vector512.FusedMultiplyAdd(Vector512.Create(d), Vector512.ConvertToSingle(sumi), acc);
            offsets += d * Q6KOffsetCorrection(ref pw, ow, ref px, ox);
        }
        return Vector512.Sum(acc) - offsets;
    }
}
