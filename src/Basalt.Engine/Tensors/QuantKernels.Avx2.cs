using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Basalt.Engine.Tensors;

// The AVX2 paths. Decode is bound by the bytes streamed from memory, so the kernels aim at few instructions per weight byte:
// - the 32-weight types (Q8_0, Q4_0, Q5_0, Q5_1) work in groups of eight blocks: the eight integer block dots are reduced together by one
//   horizontal-add tree (instead of eight reductions) and scaled by one vector of eight scales, gathered from the rows and converted at once
//   (instead of sixteen scalar half conversions); leftover blocks go one at a time;
// - the K-quants unpack their 6-bit scales and mins with a few integer ops, apply them with vector shuffles, and take the mins' (Q4_K, Q5_K)
//   or the +32 offset's (Q6_K) contribution from the activations' 16-element sums with one multiply-add.
internal static partial class QuantKernels
{
    // ---------- shared helpers ----------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float HalfAt(byte* p) => HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(p));

    /// <summary>Byte offsets of the first field of eight consecutive blocks of <paramref name="blockBytes"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Strides(int blockBytes) => Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * blockBytes;

    // The halves at p + offsets[i] as floats. The gather reads 32 bits at each offset: the half and the two bytes after it, which every
    // block layout has.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Halves8(byte* p, Vector256<int> offsets) =>
        FloatKernels.HalfToSingle(Avx2.GatherVector256((int*)p, offsets, 1).AsUInt32() & Vector256.Create(0xFFFFu));

    /// <summary>Most Q8_0 activation blocks whose scales a single-row call converts on the stack (a 64K-wide row); wider ones use an array.</summary>
    private const int MaxStackScales = 2048;

    /// <summary>The block scales of Q8_0 activations as floats: converted once per activation vector, not once per weight row.</summary>
    internal static void ActivationScales(ReadOnlySpan<byte> xq, Span<float> xd)
    {
        for (var b = 0; b < xd.Length; b++)
            xd[b] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.AsRef(in xq[b * Q8_0Block.Bytes])));
    }

    // Lane i of the result is the sum of the eight lanes of s_i.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Totals8(Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3,
        Vector256<int> s4, Vector256<int> s5, Vector256<int> s6, Vector256<int> s7)
    {
        var a = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
        var b = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s4, s5), Avx2.HorizontalAdd(s6, s7));
        return Avx2.Permute2x128(a, b, 0x20) + Avx2.Permute2x128(a, b, 0x31);
    }

    // Sums of products of unsigned (left) and signed bytes in groups of four.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MulSumU8(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256<short>.One);

    // 16 packed bytes → 32 nibbles in element order: low nibbles (elements 0..15), then high nibbles (16..31).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Nibbles32(byte* qs) => Nibbles32(ref *qs, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles32(ref byte p, int offset)
    {
        var raw = Vector128.LoadUnsafe(ref p, (nuint)offset);
        var mask = Vector128.Create((byte)0x0F);
        return Vector256.Create(raw & mask, Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask);
    }

    // Byte e of the result is 0xFF when bit e of bits is set.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> BitsToBytes(uint bits)
    {
        var spread = Avx2.Shuffle(Vector256.Create(bits).AsByte(),
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var select = Vector256.Create(0x8040201008040201ul).AsByte();
        return Vector256.Equals(spread & select, select);
    }

    // The 32 five-bit values of a Q5_0/Q5_1 block: nibbles plus 16 where the block's qh bit is set.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Unpack5Bit(byte* qs, byte* qh) => Unpack5Bit(ref *qs, 0, (int)(qh - qs));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Unpack5Bit(ref byte block, int qs, int qh) =>
        Nibbles32(ref block, qs) | (BitsToBytes(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref block, qh))) & Vector256.Create((byte)0x10));

    // ---------- Q8_0 · Q8_0 ----------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockQ8_0(byte* w, byte* x) =>
        MulSumI8(Vector256.Load((sbyte*)(w + Q8_0Block.Qs)), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ8_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        var xd = blocks <= MaxStackScales ? stackalloc float[blocks] : new float[blocks];
        ActivationScales(x, xd);
        fixed (byte* pw = w, px = x)
        fixed (float* pd = xd)
            return DotQ8_0Core(pw, px, pd, blocks);
    }
    /// <summary>Q8_0 rows against Q8_0 activations whose block scales <paramref name="xd"/> are already floats.</summary>
    internal static unsafe float DotQ8_0Core(byte* pw, byte* px, float* xd, int blocks)
    {
        const int B = Q8_0Block.Bytes;
        var offsets = Strides(B);
        var acc = Vector256<float>.Zero;
        var b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* bw = pw + b * B, bx = px + b * B;
            var dots = Totals8(BlockQ8_0(bw, bx), BlockQ8_0(bw + B, bx + B), BlockQ8_0(bw + 2 * B, bx + 2 * B), BlockQ8_0(bw + 3 * B, bx + 3 * B),
                BlockQ8_0(bw + 4 * B, bx + 4 * B), BlockQ8_0(bw + 5 * B, bx + 5 * B), BlockQ8_0(bw + 6 * B, bx + 6 * B), BlockQ8_0(bw + 7 * B, bx + 7 * B));
            acc = Vector256.FusedMultiplyAdd(Halves8(bw, offsets) * Vector256.Load(xd + b), Vector256.ConvertToSingle(dots), acc);
        }
        var sum = Vector256.Sum(acc);
        for (; b < blocks; b++)
            sum += HalfAt(pw + b * B) * xd[b] * Vector256.Sum(BlockQ8_0(pw + b * B, px + b * B));
        return sum;
    }

    // ---------- Q4_0 · Q8_0 ----------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockQ4_0(byte* w, byte* x) =>
        MulSumI8((Nibbles32(w + Q4_0Block.Qs) - Vector256.Create((byte)8)).AsSByte(), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ4_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        var xd = blocks <= MaxStackScales ? stackalloc float[blocks] : new float[blocks];
        ActivationScales(x, xd);
        fixed (byte* pw = w, px = x)
        fixed (float* pd = xd)
            return DotQ4_0Core(pw, px, pd, blocks);
    }
    internal static unsafe float DotQ4_0Core(byte* pw, byte* px, float* xd, int blocks)
    {
        const int B = Q4_0Block.Bytes, X = Q8_0Block.Bytes;
        var offsetsW = Strides(B);
        var acc = Vector256<float>.Zero;
        var b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* bw = pw + b * B, bx = px + b * X;
            var dots = Totals8(BlockQ4_0(bw, bx), BlockQ4_0(bw + B, bx + X), BlockQ4_0(bw + 2 * B, bx + 2 * X), BlockQ4_0(bw + 3 * B, bx + 3 * X),
                BlockQ4_0(bw + 4 * B, bx + 4 * X), BlockQ4_0(bw + 5 * B, bx + 5 * X), BlockQ4_0(bw + 6 * B, bx + 6 * X), BlockQ4_0(bw + 7 * B, bx + 7 * X));
            acc = Vector256.FusedMultiplyAdd(Halves8(bw, offsetsW) * Vector256.Load(xd + b), Vector256.ConvertToSingle(dots), acc);
        }
        var sum = Vector256.Sum(acc);
        for (; b < blocks; b++)
            sum += HalfAt(pw + b * B) * xd[b] * Vector256.Sum(BlockQ4_0(pw + b * B, px + b * X));
        return sum;
    }

    // ---------- Q5_0 · Q8_0 ----------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockQ5_0(byte* w, byte* x) =>
        MulSumI8((Unpack5Bit(w + Q5_0Block.Qs, w + Q5_0Block.Qh) - Vector256.Create((byte)16)).AsSByte(), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ5_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        var xd = blocks <= MaxStackScales ? stackalloc float[blocks] : new float[blocks];
        ActivationScales(x, xd);
        fixed (byte* pw = w, px = x)
        fixed (float* pd = xd)
            return DotQ5_0Core(pw, px, pd, blocks);
    }
    internal static unsafe float DotQ5_0Core(byte* pw, byte* px, float* xd, int blocks)
    {
        const int B = Q5_0Block.Bytes, X = Q8_0Block.Bytes;
        var offsetsW = Strides(B);
        var acc = Vector256<float>.Zero;
        var b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* bw = pw + b * B, bx = px + b * X;
            var dots = Totals8(BlockQ5_0(bw, bx), BlockQ5_0(bw + B, bx + X), BlockQ5_0(bw + 2 * B, bx + 2 * X), BlockQ5_0(bw + 3 * B, bx + 3 * X),
                BlockQ5_0(bw + 4 * B, bx + 4 * X), BlockQ5_0(bw + 5 * B, bx + 5 * X), BlockQ5_0(bw + 6 * B, bx + 6 * X), BlockQ5_0(bw + 7 * B, bx + 7 * X));
            acc = Vector256.FusedMultiplyAdd(Halves8(bw, offsetsW) * Vector256.Load(xd + b), Vector256.ConvertToSingle(dots), acc);
        }
        var sum = Vector256.Sum(acc);
        for (; b < blocks; b++)
            sum += HalfAt(pw + b * B) * xd[b] * Vector256.Sum(BlockQ5_0(pw + b * B, px + b * X));
        return sum;
    }

    // ---------- Q5_1 · Q8_0: x = d·q + m, so w·x = d·dx·Σq·qx + m·dx·Σqx ----------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockQ5_1(byte* w, byte* x) =>
        MulSumU8(Unpack5Bit(w + Q5_1Block.Qs, w + Q5_1Block.Qh), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> SumQ8_0(byte* x) => MulSumU8(Vector256<byte>.One, Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ5_1V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        var xd = blocks <= MaxStackScales ? stackalloc float[blocks] : new float[blocks];
        ActivationScales(x, xd);
        fixed (byte* pw = w, px = x)
        fixed (float* pd = xd)
            return DotQ5_1Core(pw, px, pd, blocks);
    }
    internal static unsafe float DotQ5_1Core(byte* pw, byte* px, float* xd, int blocks)
    {
        const int B = Q5_1Block.Bytes, X = Q8_0Block.Bytes;
        var offsetsW = Strides(B);
        var acc = Vector256<float>.Zero;
        var b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            byte* bw = pw + b * B, bx = px + b * X;
            var dots = Totals8(BlockQ5_1(bw, bx), BlockQ5_1(bw + B, bx + X), BlockQ5_1(bw + 2 * B, bx + 2 * X), BlockQ5_1(bw + 3 * B, bx + 3 * X),
                BlockQ5_1(bw + 4 * B, bx + 4 * X), BlockQ5_1(bw + 5 * B, bx + 5 * X), BlockQ5_1(bw + 6 * B, bx + 6 * X), BlockQ5_1(bw + 7 * B, bx + 7 * X));
            var sums = Totals8(SumQ8_0(bx), SumQ8_0(bx + X), SumQ8_0(bx + 2 * X), SumQ8_0(bx + 3 * X),
                SumQ8_0(bx + 4 * X), SumQ8_0(bx + 5 * X), SumQ8_0(bx + 6 * X), SumQ8_0(bx + 7 * X));
            var dx = Vector256.Load(xd + b);
            acc = Vector256.FusedMultiplyAdd(Halves8(bw + Q5_1Block.D, offsetsW) * dx, Vector256.ConvertToSingle(dots), acc);
            acc = Vector256.FusedMultiplyAdd(Halves8(bw + Q5_1Block.M, offsetsW) * dx, Vector256.ConvertToSingle(sums), acc);
        }
        var sum = Vector256.Sum(acc);
        for (; b < blocks; b++)
        {
            byte* bw = pw + b * B, bx = px + b * X;
            sum += HalfAt(bw + Q5_1Block.D) * xd[b] * Vector256.Sum(BlockQ5_1(bw, bx)) + HalfAt(bw + Q5_1Block.M) * xd[b] * Vector256.Sum(SumQ8_0(bx));
        }
        return sum;
    }

    // ---------- K-quants · Q8_K ----------

    // The eight 6-bit scales and mins of a Q4_K/Q5_K super-block, unpacked from their 12 bytes with 32-bit integer ops and widened to
    // 16-bit lanes (the scales twice, once per 128-bit lane, for the shuffles that broadcast them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<short> Scales, Vector128<short> Mins) ScalesMinsK4(byte* packed)
    {
        const uint Low6 = 0x3f3f3f3f, Low4 = 0x0f0f0f0f, Low2 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(packed), u1 = Unsafe.ReadUnaligned<uint>(packed + 4), u2 = Unsafe.ReadUnaligned<uint>(packed + 8);
        var scales = (u0 & Low6) | ((ulong)((u2 & Low4) | (((u0 >> 6) & Low2) << 4)) << 32);
        var mins = (u1 & Low6) | ((ulong)(((u2 >> 4) & Low4) | (((u1 >> 6) & Low2) << 4)) << 32);
        var sc = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(scales).AsByte());
        return (Vector256.Create(sc, sc), Sse41.ConvertToVector128Int16(Vector128.CreateScalar(mins).AsByte()));
    }

    // Σ_s min[s] · (sum of the 32 activations of sub-block s), from the Q8_K block's sixteen 16-element sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<int> MinsDotK4(Vector128<short> mins, byte* xBlock)
    {
        var bsums = Vector256.Load((short*)(xBlock + Q8KBlock.BSums));
        return Sse2.MultiplyAddAdjacent(mins, Ssse3.HorizontalAdd(bsums.GetLower(), bsums.GetUpper()));
    }

    // Shuffle control that broadcasts 16-bit lane s of each 128-bit half.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Broadcast16(int s) => Vector256.Create((ushort)((2 * s) | ((2 * s + 1) << 8))).AsByte();

    // Two 32-weight sub-blocks (values 0..31) against 64 activations, each scaled by its 16-bit scale.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> SubBlockPairK4(Vector256<byte> lo, Vector256<byte> hi, byte* xq, Vector256<short> scales, int s)
    {
        var p0 = Avx2.MultiplyAddAdjacent(lo, Vector256.Load((sbyte*)xq));
        var p1 = Avx2.MultiplyAddAdjacent(hi, Vector256.Load((sbyte*)(xq + 32)));
        return Avx2.MultiplyAddAdjacent(p0, Avx2.Shuffle(scales.AsByte(), Broadcast16(s)).AsInt16())
            + Avx2.MultiplyAddAdjacent(p1, Avx2.Shuffle(scales.AsByte(), Broadcast16(s + 1)).AsInt16());
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ4_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        fixed (byte* pw = w, px = x)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var acc = Vector256<float>.Zero;
            var accMins = Vector128<float>.Zero;
            for (var b = 0; b < blocks; b++)
            {
                byte* bw = pw + b * Q4KBlock.Bytes, bx = px + b * Q8KBlock.Bytes;
                var (scales, mins) = ScalesMinsK4(bw + Q4KBlock.Scales);
                var dx = Unsafe.ReadUnaligned<float>(bx + Q8KBlock.D);
                accMins = Vector128.FusedMultiplyAdd(Vector128.Create(HalfAt(bw + Q4KBlock.DMin) * dx), Vector128.ConvertToSingle(MinsDotK4(mins, bx)), accMins);
                byte* qs = bw + Q4KBlock.Qs, xq = bx + Q8KBlock.Qs;
                Vector256<byte> q0 = Vector256.Load(qs), q1 = Vector256.Load(qs + 32), q2 = Vector256.Load(qs + 64), q3 = Vector256.Load(qs + 96);
                var sumi0 = SubBlockPairK4(q0 & m4, Vector256.ShiftRightLogical(q0.AsUInt16(), 4).AsByte() & m4, xq, scales, 0)
                    + SubBlockPairK4(q1 & m4, Vector256.ShiftRightLogical(q1.AsUInt16(), 4).AsByte() & m4, xq + 64, scales, 2);
                var sumi1 = SubBlockPairK4(q2 & m4, Vector256.ShiftRightLogical(q2.AsUInt16(), 4).AsByte() & m4, xq + 128, scales, 4)
                    + SubBlockPairK4(q3 & m4, Vector256.ShiftRightLogical(q3.AsUInt16(), 4).AsByte() & m4, xq + 192, scales, 6);
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(HalfAt(bw + Q4KBlock.D) * dx), Vector256.ConvertToSingle(sumi0 + sumi1), acc);
            }
            return Vector256.Sum(acc) - Vector128.Sum(accMins);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ5_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        fixed (byte* pw = w, px = x)
        {
            var acc = Vector256<float>.Zero;
            var accMins = Vector128<float>.Zero;
            for (var b = 0; b < blocks; b++)
            {
                byte* bw = pw + b * Q5KBlock.Bytes, bx = px + b * Q8KBlock.Bytes;
                var (scales, mins) = ScalesMinsK4(bw + Q5KBlock.Scales);
                var dx = Unsafe.ReadUnaligned<float>(bx + Q8KBlock.D);
                accMins = Vector128.FusedMultiplyAdd(Vector128.Create(HalfAt(bw + Q5KBlock.DMin) * dx), Vector128.ConvertToSingle(MinsDotK4(mins, bx)), accMins);
                var qh = Vector256.Load(bw + Q5KBlock.Qh);
                ref var block = ref Unsafe.AsRef<byte>(bw);
                byte* xq = bx + Q8KBlock.Qs;
                var (l0, h0) = UnpackQ5K(ref block, 0, qh, 0);
                var (l1, h1) = UnpackQ5K(ref block, 0, qh, 1);
                var (l2, h2) = UnpackQ5K(ref block, 0, qh, 2);
                var (l3, h3) = UnpackQ5K(ref block, 0, qh, 3);
                var sumi0 = SubBlockPairK4(l0, h0, xq, scales, 0) + SubBlockPairK4(l1, h1, xq + 64, scales, 2);
                var sumi1 = SubBlockPairK4(l2, h2, xq + 128, scales, 4) + SubBlockPairK4(l3, h3, xq + 192, scales, 6);
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(HalfAt(bw + Q5KBlock.D) * dx), Vector256.ConvertToSingle(sumi0 + sumi1), acc);
            }
            return Vector256.Sum(acc) - Vector128.Sum(accMins);
        }
    }

    // Shuffle control for a 32-weight Q6_K group k of a half: the low 128-bit lane broadcasts 16-bit scale 2k, the high lane 2k+1.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ScalePairQ6K(int k) =>
        Vector256.Create(Vector128.Create((ushort)((4 * k) | ((4 * k + 1) << 8))), Vector128.Create((ushort)((4 * k + 2) | ((4 * k + 3) << 8)))).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> GroupQ6K(Vector256<byte> v, byte* xq, Vector256<short> halfScales, int k) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(v, Vector256.Load((sbyte*)xq)), Avx2.Shuffle(halfScales.AsByte(), ScalePairQ6K(k)).AsInt16());

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float DotQ6_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        fixed (byte* pw = w, px = x)
        {
            var acc = Vector256<float>.Zero;
            for (var b = 0; b < blocks; b++)
            {
                byte* bw = pw + b * Q6KBlock.Bytes, bx = px + b * Q8KBlock.Bytes;
                var scales = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(bw + Q6KBlock.Scales)));
                // The stored values are q + 32: remove 32 · Σ_s scale[s] · bsum[s] up front.
                var sumi = -Vector256.ShiftLeft(Avx2.MultiplyAddAdjacent(scales, Vector256.Load((short*)(bx + Q8KBlock.BSums))), 5);
                ref var block = ref Unsafe.AsRef<byte>(bw);
                byte* xq = bx + Q8KBlock.Qs;
                var s0 = Avx2.Permute2x128(scales, scales, 0x00);
                var (v0, v1, v2, v3) = UnpackQ6K(ref block, 0, 0);
                sumi += GroupQ6K(v0, xq, s0, 0) + GroupQ6K(v1, xq + 32, s0, 1);
                sumi += GroupQ6K(v2, xq + 64, s0, 2) + GroupQ6K(v3, xq + 96, s0, 3);
                var s1 = Avx2.Permute2x128(scales, scales, 0x11);
                (v0, v1, v2, v3) = UnpackQ6K(ref block, 0, 1);
                sumi += GroupQ6K(v0, xq + 128, s1, 0) + GroupQ6K(v1, xq + 160, s1, 1);
                sumi += GroupQ6K(v2, xq + 192, s1, 2) + GroupQ6K(v3, xq + 224, s1, 3);
                var d = HalfAt(bw + Q6KBlock.D) * Unsafe.ReadUnaligned<float>(bx + Q8KBlock.D);
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(sumi), acc);
            }
            return Vector256.Sum(acc);
        }
    }
}
