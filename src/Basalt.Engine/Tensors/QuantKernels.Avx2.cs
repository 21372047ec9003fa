using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Basalt.Engine.Tensors;

// The AVX2 paths. Decode is bound by the bytes streamed from memory, so the kernels aim at few instructions per weight byte:
// - the 32-weight types (Q8_0, Q4_0, Q5_0, Q5_1) share one loop (DotRows) over a range of rows against activations prepared once per
//   activation vector (block scales as floats, block sums as integers). Groups of eight blocks: the eight integer block dots are reduced
//   together by one horizontal-add tree and scaled by one vector of eight scales, read with eight scalar loads and converted at once
//   (vpgatherdd is slower on Zen 3, measured 17 against 24 Gweights/s for Q8_0 in L2); leftover blocks go one at a time. Stored values
//   are used unsigned where the type allows (Q4_0, Q5_0, Q5_1): the offset (8 or 16) is taken out once per block through the activations'
//   block sums, which saves the sign trick of the signed multiply;
// - the K-quants unpack their 6-bit scales and mins with a few integer ops, apply them with vector shuffles, and take the mins' (Q4_K, Q5_K)
//   or the +32 offset's (Q6_K) contribution from the activations' 16-element sums with one multiply-add.
// Every entry point is AggressiveOptimization: a kernel left to tiered compilation runs its unoptimized first tier (every Vector256 op a
// call, 3-5x slower) for the first fraction of a second of decoding, and in benchmarks shorter than the tiering delay.
internal static partial class QuantKernels
{
    // ---------- shared helpers ----------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float HalfAt(byte* p) => HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(p));

    // Eight halves as floats, exact for every bit pattern (zeros, subnormals, infinities and NaNs included).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalvesToSingles(Vector128<ushort> h) => FloatKernels.HalfToSingle(Avx2.ConvertToVector256Int32(h).AsUInt32());

    // The halves at p, p + stride, ..., p + 7·stride as floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Halves8(byte* p, int stride) => HalvesToSingles(Vector128.Create(
        *(ushort*)p, *(ushort*)(p + stride), *(ushort*)(p + 2 * stride), *(ushort*)(p + 3 * stride),
        *(ushort*)(p + 4 * stride), *(ushort*)(p + 5 * stride), *(ushort*)(p + 6 * stride), *(ushort*)(p + 7 * stride)));

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

    // 16 packed bytes → 32 nibbles in element order: low nibbles (elements 0..15), then high nibbles (16..31). The bytes are loaded into
    // both halves at once and the upper half shifted by 4 (vbroadcasti128, vpsrlvd, vpand: two ALU ops instead of four and an insert).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector256<byte> Nibbles32(byte* qs) =>
        Avx2.ShiftRightLogicalVariable(Avx2.BroadcastVector128ToVector256(qs).AsUInt32(), Vector256.Create(0u, 0, 0, 0, 4, 4, 4, 4)).AsByte()
        & Vector256.Create((byte)0x0F);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles32(ref byte p, int offset)
    {
        var raw = Vector128.LoadUnsafe(ref p, (nuint)offset);
        var mask = Vector128.Create((byte)0x0F);
        return Vector256.Create(raw & mask, Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask);
    }

    // Byte e of the result is 0xFF when bit e of the 32 bits is set.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> BitsToBytes(Vector256<byte> broadcast)
    {
        var spread = Avx2.Shuffle(broadcast,
            Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var select = Vector256.Create(0x8040201008040201ul).AsByte();
        return Vector256.Equals(spread & select, select);
    }

    // The 32 five-bit values of a Q5_0/Q5_1 block: nibbles plus 16 where the block's qh bit is set (qh read straight into all lanes).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Unpack5Bit(byte* qs, byte* qh) =>
        Nibbles32(qs) | (BitsToBytes(Avx2.BroadcastScalarToVector256((uint*)qh).AsByte()) & Vector256.Create((byte)0x10));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Unpack5Bit(ref byte block, int qs, int qh) =>
        Nibbles32(ref block, qs) | (BitsToBytes(Vector256.Create(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref block, qh))).AsByte()) & Vector256.Create((byte)0x10));

    // ---------- the 32-weight types · Q8_0 ----------

    /// <summary>One 32-weight block type for <see cref="DotRows{T}"/>: its layout and the integer dot of its stored values with a Q8_0
    /// block. A weight is d·(q − Offset) (+ m where the type has a min); the JIT specializes the loop for each struct.</summary>
    private interface ILegacyBlock
    {
        /// <summary>Bytes per block.</summary>
        static abstract int Bytes { get; }

        /// <summary>What is subtracted from each stored value (0 for Q8_0 and Q5_1, whose values are already signed or have a min).</summary>
        static abstract int Offset { get; }

        /// <summary>Byte offset of the half min m, or −1.</summary>
        static abstract int MinAt { get; }

        /// <summary>Σ q_e · x_e over the block in eight partial sums, q the stored value.</summary>
        static abstract unsafe Vector256<int> Dot(byte* w, byte* x);
    }

    private struct Q8_0Dot : ILegacyBlock
    {
        public static int Bytes => Q8_0Block.Bytes;
        public static int Offset => 0;
        public static int MinAt => -1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector256<int> Dot(byte* w, byte* x) =>
            MulSumI8(Vector256.Load((sbyte*)(w + Q8_0Block.Qs)), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));
    }

    private struct Q4_0Dot : ILegacyBlock
    {
        public static int Bytes => Q4_0Block.Bytes;
        public static int Offset => 8;
        public static int MinAt => -1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector256<int> Dot(byte* w, byte* x) => MulSumU8(Nibbles32(w + Q4_0Block.Qs), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));
    }

    private struct Q5_0Dot : ILegacyBlock
    {
        public static int Bytes => Q5_0Block.Bytes;
        public static int Offset => 16;
        public static int MinAt => -1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector256<int> Dot(byte* w, byte* x) =>
            MulSumU8(Unpack5Bit(w + Q5_0Block.Qs, w + Q5_0Block.Qh), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));
    }

    private struct Q5_1Dot : ILegacyBlock
    {
        public static int Bytes => Q5_1Block.Bytes;
        public static int Offset => 0;
        public static int MinAt => Q5_1Block.M;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector256<int> Dot(byte* w, byte* x) =>
            MulSumU8(Unpack5Bit(w + Q5_1Block.Qs, w + Q5_1Block.Qh), Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));
    }

    /// <summary>Most Q8_0 activation blocks a single-row call prepares on the stack (a 64K-wide row); wider ones use arrays.</summary>
    internal const int MaxStackBlocks = 2048;

    /// <summary>Prepares Q8_0 activations of <paramref name="blocks"/> blocks for <see cref="DotRows{T}"/>: each block's scale as a float
    /// and the sum of its 32 signed values. Done once per activation vector, not once per weight row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void PrepareActivations(byte* x, int blocks, float* xd, int* xs)
    {
        const int X = Q8_0Block.Bytes;
        var b = 0;
        for (; b + 8 <= blocks; b += 8)
        {
            var bx = x + b * X;
            Halves8(bx, X).Store(xd + b);
            Totals8(SumQ8_0(bx), SumQ8_0(bx + X), SumQ8_0(bx + 2 * X), SumQ8_0(bx + 3 * X),
                SumQ8_0(bx + 4 * X), SumQ8_0(bx + 5 * X), SumQ8_0(bx + 6 * X), SumQ8_0(bx + 7 * X)).Store(xs + b);
        }
        for (; b < blocks; b++)
        {
            xd[b] = HalfAt(x + b * X);
            xs[b] = Vector256.Sum(SumQ8_0(x + b * X));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> SumQ8_0(byte* x) => MulSumU8(Vector256<byte>.One, Vector256.Load((sbyte*)(x + Q8_0Block.Qs)));

    // How far ahead of the block being read the kernels prefetch weight bytes. Measured streaming 64 MiB of rows on one core of the Zen 3
    // this was tuned on (bench kernels, RowKernels ranges, under load): +15-25% Gweights per CPU-second for Q8_0, Q5_0, Q4_K, Q5_K and Q6_K
    // at 1-2 KiB ahead against none; 4 KiB was no better for the 32-weight types and worse for Q4_K and Q6_K.
    private const int PrefetchDistance = 2048;

    // Software prefetch of the weight bytes a step consumes (at most 320), PrefetchDistance ahead: one prefetch per cache line, unrolled
    // (bytes is a constant at every call site, so the conditions fold away).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchAhead(byte* p, int bytes)
    {
        var ahead = p + PrefetchDistance;
        Sse.Prefetch0(ahead);
        Sse.Prefetch0(ahead + 64);
        if (bytes > 128)
            Sse.Prefetch0(ahead + 128);
        if (bytes > 192)
            Sse.Prefetch0(ahead + 192);
        if (bytes > 256)
            Sse.Prefetch0(ahead + 256);
    }

    /// <summary>y[r] = row_r · x for <paramref name="rows"/> rows of <paramref name="blocks"/> blocks of type <typeparamref name="T"/>,
    /// <paramref name="rowBytes"/> apart, against Q8_0 activations <paramref name="x"/> prepared by <see cref="PrepareActivations"/>.</summary>
    // A row ends with blocks % 8 leftover blocks (two of the 18 in a 576-wide row). Rows with none or two go four at a time: their four
    // accumulators are reduced together by one horizontal-add tree, and their eight leftover blocks are done as one group of eight (one
    // reduction tree, one scale conversion) instead of one block at a time. Every row's value is the same float operations in the same
    // order whichever way it goes (RowSums4, LeftoverBlock), so the single-row API and a range agree bit for bit.
    // NoInlining: tier-1 compilation of the type dispatch below inlined this loop and then ran out of inlining budget for its five
    // FullGroups, which became calls (135M Q4_K_M decode on one thread 90 -> 70-80 tokens/s); compiled on its own, everything inlines.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void DotRows<T>(byte* w, long rowBytes, int rows, byte* x, float* xd, int* xs, int blocks, float* y)
        where T : struct, ILegacyBlock
    {
        const int X = Q8_0Block.Bytes;
        var B = T.Bytes;
        var full = blocks & ~7;
        var left = blocks - full;
        var r = 0;
        if (left is 0 or 2)
        {
            // Lane k of a leftover group: row k / 2, block full + k % 2.
            byte* x0 = x + full * X, x1 = x0 + X;
            var dx = Vector256<float>.Zero;
            var sx = Vector256<int>.Zero;
            if (left == 2)
            {
                dx = Vector256.Create(xd[full], xd[full + 1], xd[full], xd[full + 1], xd[full], xd[full + 1], xd[full], xd[full + 1]);
                sx = Vector256.Create(xs[full], xs[full + 1], xs[full], xs[full + 1], xs[full], xs[full + 1], xs[full], xs[full + 1]);
            }
            for (; r + 4 <= rows; r += 4, w += 4 * rowBytes)
            {
                byte* w1 = w + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
                var sums = RowSums4(FullGroups<T>(w, x, xd, xs, full), FullGroups<T>(w1, x, xd, xs, full),
                    FullGroups<T>(w2, x, xd, xs, full), FullGroups<T>(w3, x, xd, xs, full));
                if (left == 2)
                {
                    byte* l0 = w + full * B, l1 = w1 + full * B, l2 = w2 + full * B, l3 = w3 + full * B;
                    var dots = Totals8(T.Dot(l0, x0), T.Dot(l0 + B, x1), T.Dot(l1, x0), T.Dot(l1 + B, x1),
                        T.Dot(l2, x0), T.Dot(l2 + B, x1), T.Dot(l3, x0), T.Dot(l3 + B, x1));
                    if (T.Offset != 0)
                        dots -= Vector256.ShiftLeft(sx, T.Offset == 8 ? 3 : 4);
                    var v = Halves2x4(l0, l1, l2, l3, B, 0) * dx * Vector256.ConvertToSingle(dots);
                    if (T.MinAt >= 0)
                        v = Vector256.FusedMultiplyAdd(Halves2x4(l0, l1, l2, l3, B, T.MinAt) * dx, Vector256.ConvertToSingle(sx), v);
                    // Lanes 2i and 2i + 1 summed, in row order.
                    var pairs = Avx.HorizontalAdd(v, v);
                    sums += Avx2.Permute4x64(pairs.AsDouble(), 0b_00_00_10_00).AsSingle().GetLower();
                }
                sums.Store(y + r);
            }
        }
        var zero = Vector256<float>.Zero;
        for (; r < rows; r++, w += rowBytes)
        {
            var sum = RowSums4(FullGroups<T>(w, x, xd, xs, full), zero, zero, zero).ToScalar();
            if (left > 0)
            {
                var rest = LeftoverBlock<T>(w, x, xd, xs, full);
                for (var b = full + 1; b < blocks; b++)
                    rest += LeftoverBlock<T>(w, x, xd, xs, b);
                sum += rest;
            }
            y[r] = sum;
        }
    }

    // Lane i: the sum of the eight lanes of a_i, ((e0 + e1) + (e2 + e3)) + ((e4 + e5) + (e6 + e7)).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> RowSums4(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        var h = Avx.HorizontalAdd(Avx.HorizontalAdd(a0, a1), Avx.HorizontalAdd(a2, a3));
        return h.GetLower() + h.GetUpper();
    }

    // The halves at p + at and p + bytes + at for p = r0, r1, r2, r3, as floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> Halves2x4(byte* r0, byte* r1, byte* r2, byte* r3, int bytes, int at) => HalvesToSingles(Vector128.Create(
        *(ushort*)(r0 + at), *(ushort*)(r0 + bytes + at), *(ushort*)(r1 + at), *(ushort*)(r1 + bytes + at),
        *(ushort*)(r2 + at), *(ushort*)(r2 + bytes + at), *(ushort*)(r3 + at), *(ushort*)(r3 + bytes + at)));

    // One row's groups of eight blocks (the first full blocks), in eight partial sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<float> FullGroups<T>(byte* w, byte* x, float* xd, int* xs, int full) where T : struct, ILegacyBlock
    {
        const int X = Q8_0Block.Bytes;
        var B = T.Bytes;
        var acc = Vector256<float>.Zero;
        for (var b = 0; b < full; b += 8)
        {
            byte* bw = w + b * B, bx = x + b * X;
            PrefetchAhead(bw, 8 * B);
            var dots = Totals8(T.Dot(bw, bx), T.Dot(bw + B, bx + X), T.Dot(bw + 2 * B, bx + 2 * X), T.Dot(bw + 3 * B, bx + 3 * X),
                T.Dot(bw + 4 * B, bx + 4 * X), T.Dot(bw + 5 * B, bx + 5 * X), T.Dot(bw + 6 * B, bx + 6 * X), T.Dot(bw + 7 * B, bx + 7 * X));
            var dx = Vector256.Load(xd + b);
            if (T.Offset != 0)
                dots -= Vector256.ShiftLeft(Vector256.Load(xs + b), T.Offset == 8 ? 3 : 4);
            acc = Vector256.FusedMultiplyAdd(Halves8(bw, B) * dx, Vector256.ConvertToSingle(dots), acc);
            if (T.MinAt >= 0)
                acc = Vector256.FusedMultiplyAdd(Halves8(bw + T.MinAt, B) * dx, Vector256.ConvertToSingle(Vector256.Load(xs + b)), acc);
        }
        return acc;
    }

    // Block b of a row alone: the same float operations as one lane of a grouped leftover (scale · activation scale · (dot − offset · sum),
    // plus min · activation scale · sum fused).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float LeftoverBlock<T>(byte* w, byte* x, float* xd, int* xs, int b) where T : struct, ILegacyBlock
    {
        byte* bw = w + b * T.Bytes;
        var dot = Vector256.Sum(T.Dot(bw, x + b * Q8_0Block.Bytes));
        if (T.Offset != 0)
            dot -= T.Offset * xs[b];
        var v = HalfAt(bw) * xd[b] * (float)dot;
        if (T.MinAt >= 0)
            v = MathF.FusedMultiplyAdd(HalfAt(bw + T.MinAt) * xd[b], (float)xs[b], v);
        return v;
    }

    /// <summary>Rows of a 32-weight type (Q8_0, Q4_0, Q5_0, Q5_1) against prepared Q8_0 activations; see <see cref="DotRows{T}"/>.</summary>
    internal static unsafe void DotRows(Gguf.GgmlType type, byte* w, long rowBytes, int rows, byte* x, float* xd, int* xs, int blocks, float* y)
    {
        switch (type)
        {
            case Gguf.GgmlType.Q8_0: DotRows<Q8_0Dot>(w, rowBytes, rows, x, xd, xs, blocks, y); break;
            case Gguf.GgmlType.Q4_0: DotRows<Q4_0Dot>(w, rowBytes, rows, x, xd, xs, blocks, y); break;
            case Gguf.GgmlType.Q5_0: DotRows<Q5_0Dot>(w, rowBytes, rows, x, xd, xs, blocks, y); break;
            case Gguf.GgmlType.Q5_1: DotRows<Q5_1Dot>(w, rowBytes, rows, x, xd, xs, blocks, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "Not a 32-weight block type.");
        }
    }

    /// <summary>Rows of a 32-weight type against Q8_0 activations <paramref name="x"/> as quantized: prepares them (on the stack, or in
    /// arrays past <see cref="MaxStackBlocks"/>) and runs <see cref="DotRows{T}"/>. The single-row API is this with one row.</summary>
    [SkipLocalsInit]
    internal static unsafe void DotRows(Gguf.GgmlType type, ReadOnlySpan<byte> w, int rowBytes, int rows, ReadOnlySpan<byte> x, int blocks, Span<float> y)
    {
        var xd = blocks <= MaxStackBlocks ? stackalloc float[blocks] : new float[blocks];
        var xs = blocks <= MaxStackBlocks ? stackalloc int[blocks] : new int[blocks];
        fixed (byte* pw = w, px = x)
        fixed (float* pd = xd, py = y)
        fixed (int* ps = xs)
        {
            PrepareActivations(px, blocks, pd, ps);
            DotRows(type, pw, rowBytes, rows, px, pd, ps, blocks, py);
        }
    }

    private static float DotRow(Gguf.GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        var y = 0f;
        DotRows(type, w, 0, 1, x, blocks, new Span<float>(ref y));
        return y;
    }

    internal static float DotQ8_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) => DotRow(Gguf.GgmlType.Q8_0, w, x, blocks);

    internal static float DotQ4_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) => DotRow(Gguf.GgmlType.Q4_0, w, x, blocks);

    internal static float DotQ5_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) => DotRow(Gguf.GgmlType.Q5_0, w, x, blocks);

    // Q5_1: x = d·q + m, so w·x = d·dx·Σq·qx + m·dx·Σqx.
    internal static float DotQ5_1V256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks) => DotRow(Gguf.GgmlType.Q5_1, w, x, blocks);

    // ---------- K-quants · Q8_K ----------

    // The eight 6-bit scales and mins of a Q4_K/Q5_K super-block, unpacked from their 12 bytes (Dequantize.ScaleMinK4) in one 16-byte
    // register and widened to 16-bit lanes (the scales twice, once per 128-bit lane, for the shuffles that broadcast them). Bytes 0-7 of
    // the unpacked register are the scales, 8-15 the mins: low bits from bytes A (& 63, or & 15, or >> 4 & 15 for the upper four mins),
    // the two high bits of the upper four of each from bits 6-7 of bytes B. Vector ops instead of ~30 scalar ones per super-block.
    // The 16-byte load reads 4 bytes past the 12 (the block's next field).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe (Vector256<short> Scales, Vector128<short> Mins) ScalesMinsK4(byte* packed)
    {
        var q = Vector128.Load(packed);
        var a = Ssse3.Shuffle(q, Vector128.Create((byte)0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
        var b = Ssse3.Shuffle(q, Vector128.Create((byte)0x80, 0x80, 0x80, 0x80, 0, 1, 2, 3, 0x80, 0x80, 0x80, 0x80, 4, 5, 6, 7));
        var low = Avx2.Blend(a.AsInt32(), Vector128.ShiftRightLogical(a.AsUInt16(), 4).AsInt32(), 0b1000).AsByte()
            & Vector128.Create(0x0f0f0f0f_3f3f3f3ful).AsByte();
        var high = Vector128.ShiftRightLogical(b.AsUInt16(), 2).AsByte() & Vector128.Create(0x30303030_00000000ul).AsByte();
        var unpacked = low | high;
        var sc = Sse41.ConvertToVector128Int16(unpacked);
        return (Vector256.Create(sc, sc), Sse2.UnpackHigh(unpacked, Vector128<byte>.Zero).AsInt16());
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

    // ---------- K-quants: a range of rows ----------

    /// <summary>One K-quant super-block type for <see cref="DotRowsK{T}"/>: its layout and the integer dot of one super-block with a Q8_K
    /// block. A weight is d·sc·q − dmin·m, so a super-block's value is d·dx·Σ − dmin·dx·Σmins.</summary>
    private interface IKBlock
    {
        /// <summary>Bytes per super-block.</summary>
        static abstract int Bytes { get; }

        /// <summary>Byte offset of the half d; the half dmin follows it.</summary>
        static abstract int DAt { get; }

        /// <summary>Σ_s sc_s · Σ q·qx over the super-block in eight partial sums; <paramref name="mins"/>: Σ_s m_s · (sum of the activations
        /// of sub-block s) in four partial sums, from <paramref name="bsums8"/> (the Q8_K block's 32-element sums).</summary>
        static abstract unsafe Vector256<int> Dot(byte* w, byte* x, Vector128<short> bsums8, out Vector128<int> mins);
    }

    private struct Q4KDot : IKBlock
    {
        public static int Bytes => Q4KBlock.Bytes;
        public static int DAt => Q4KBlock.D;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector256<int> Dot(byte* w, byte* x, Vector128<short> bsums8, out Vector128<int> mins)
        {
            var m4 = Vector256.Create((byte)0x0F);
            var (scales, m) = ScalesMinsK4(w + Q4KBlock.Scales);
            mins = Sse2.MultiplyAddAdjacent(m, bsums8);
            byte* qs = w + Q4KBlock.Qs, xq = x + Q8KBlock.Qs;
            Vector256<byte> q0 = Vector256.Load(qs), q1 = Vector256.Load(qs + 32), q2 = Vector256.Load(qs + 64), q3 = Vector256.Load(qs + 96);
            var sumi0 = SubBlockPairK4(q0 & m4, Vector256.ShiftRightLogical(q0.AsUInt16(), 4).AsByte() & m4, xq, scales, 0)
                + SubBlockPairK4(q1 & m4, Vector256.ShiftRightLogical(q1.AsUInt16(), 4).AsByte() & m4, xq + 64, scales, 2);
            var sumi1 = SubBlockPairK4(q2 & m4, Vector256.ShiftRightLogical(q2.AsUInt16(), 4).AsByte() & m4, xq + 128, scales, 4)
                + SubBlockPairK4(q3 & m4, Vector256.ShiftRightLogical(q3.AsUInt16(), 4).AsByte() & m4, xq + 192, scales, 6);
            return sumi0 + sumi1;
        }
    }

    private struct Q5KDot : IKBlock
    {
        public static int Bytes => Q5KBlock.Bytes;
        public static int DAt => Q5KBlock.D;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static unsafe Vector256<int> Dot(byte* w, byte* x, Vector128<short> bsums8, out Vector128<int> mins)
        {
            var (scales, m) = ScalesMinsK4(w + Q5KBlock.Scales);
            mins = Sse2.MultiplyAddAdjacent(m, bsums8);
            var qh = Vector256.Load(w + Q5KBlock.Qh);
            ref var block = ref Unsafe.AsRef<byte>(w);
            byte* xq = x + Q8KBlock.Qs;
            var (l0, h0) = UnpackQ5K(ref block, 0, qh, 0);
            var (l1, h1) = UnpackQ5K(ref block, 0, qh, 1);
            var (l2, h2) = UnpackQ5K(ref block, 0, qh, 2);
            var (l3, h3) = UnpackQ5K(ref block, 0, qh, 3);
            var sumi0 = SubBlockPairK4(l0, h0, xq, scales, 0) + SubBlockPairK4(l1, h1, xq + 64, scales, 2);
            var sumi1 = SubBlockPairK4(l2, h2, xq + 128, scales, 4) + SubBlockPairK4(l3, h3, xq + 192, scales, 6);
            return sumi0 + sumi1;
        }
    }

    // The Q8_K block's sixteen 16-element sums as eight 32-element (sub-block) sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector128<short> BSums8(byte* x)
    {
        var bsums = Vector256.Load((short*)(x + Q8KBlock.BSums));
        return Ssse3.HorizontalAdd(bsums.GetLower(), bsums.GetUpper());
    }

    /// <summary>y[r] = row_r · x for <paramref name="rows"/> rows of <paramref name="blocks"/> super-blocks of type <typeparamref name="T"/>,
    /// <paramref name="rowBytes"/> apart, against Q8_K activations.</summary>
    // Each super-block's integer dot (sub-block scales applied by vpmaddwd) is summed to one int32 and scaled by one float FMA. Rows go
    // four at a time, one lane each: their integer sums (and mins terms) are reduced by one horizontal-add tree, their d and dmin
    // converted as one vector, and one Vector128 FMA accumulates the four, instead of a broadcast, two scalar half conversions and an
    // 8-lane reduction per row (Q4_K: +14% Gweights/cpu-s in L2). A last group of 1-3 rows (and the single-row API, a group of one) fills
    // the other lanes with zeros: no lane depends on another, so a row's value is the same whichever group it is in.
    // The prefetch runs PrefetchDistance ahead in each row; near a row's end it moves to the same row of the next group of four (with
    // four interleaved streams the hardware prefetcher alone halves the streamed rate). Rows shorter than that distance (2048-wide
    // Q4_K rows are 1152 bytes) prefetch the next group as one sequential stream instead, B bytes per row and super-block, so it is
    // in cache when its turn comes (four streams a row apart measured ~5% fewer Gweights per CPU-second streamed).
    // NoInlining for the reason given at DotRows<T>.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static unsafe void DotRowsK<T>(byte* w, long rowBytes, int rows, byte* x, int blocks, float* y) where T : struct, IKBlock
    {
        var B = T.Bytes;
        var dots = stackalloc Vector256<int>[4];
        var minDots = stackalloc Vector128<int>[4];
        var shortRows = rowBytes < PrefetchDistance + B;
        for (var r = 0; r < rows; r += 4, w += 4 * rowBytes)
        {
            var count = Math.Min(4, rows - r);
            // Rows missing from a last group read row 0's scales (their sums stay zero, their lanes are not stored).
            byte* w1 = count > 1 ? w + rowBytes : w, w2 = count > 2 ? w + 2 * rowBytes : w, w3 = count > 3 ? w + 3 * rowBytes : w;
            for (var k = count; k < 4; k++)
            {
                dots[k] = Vector256<int>.Zero;
                minDots[k] = Vector128<int>.Zero;
            }
            var acc = Vector128<float>.Zero;
            var accMins = Vector128<float>.Zero;
            // Where the next group starts, less the distance PrefetchAhead adds.
            var next = w + 4 * rowBytes - PrefetchDistance;
            for (var b = 0; b < blocks; b++)
            {
                long o = (long)b * B;
                byte* bx = x + (long)b * Q8KBlock.Bytes;
                var ahead = o + PrefetchDistance + B <= rowBytes ? o : o + 3 * rowBytes;
                var bsums8 = BSums8(bx);
                // One row at a time through the super-block (four inlined bodies exceed what the JIT keeps in registers).
                for (var k = 0; k < count; k++)
                {
                    byte* bw = w + k * rowBytes;
                    PrefetchAhead(shortRows ? next + (4 * b + k) * B : bw + ahead, B);
                    dots[k] = T.Dot(bw + o, bx, bsums8, out var m);
                    minDots[k] = m;
                }
                var h = Avx2.HorizontalAdd(Avx2.HorizontalAdd(dots[0], dots[1]), Avx2.HorizontalAdd(dots[2], dots[3]));
                var sumi = Vector128.ConvertToSingle(h.GetLower() + h.GetUpper());
                var mins = Vector128.ConvertToSingle(Ssse3.HorizontalAdd(Ssse3.HorizontalAdd(minDots[0], minDots[1]), Ssse3.HorizontalAdd(minDots[2], minDots[3])));
                var dx = Vector128.Create(Unsafe.ReadUnaligned<float>(bx + Q8KBlock.D));
                // d in the low half of each 32-bit word, dmin in the high half.
                var dd = Vector128.Create(Unsafe.ReadUnaligned<uint>(w + o + T.DAt), Unsafe.ReadUnaligned<uint>(w1 + o + T.DAt),
                    Unsafe.ReadUnaligned<uint>(w2 + o + T.DAt), Unsafe.ReadUnaligned<uint>(w3 + o + T.DAt));
                var d = HalfBits.ToSingle(Vector256.Create(dd & Vector128.Create(0xffffu), dd >>> 16));
                acc = Vector128.FusedMultiplyAdd(d.GetLower() * dx, sumi, acc);
                accMins = Vector128.FusedMultiplyAdd(d.GetUpper() * dx, mins, accMins);
            }
            var sums = acc - accMins;
            if (count == 4)
                sums.Store(y + r);
            else
                for (var k = 0; k < count; k++)
                    y[r + k] = sums.GetElement(k);
        }
    }

    /// <summary>Rows of Q4_K or Q5_K against Q8_K activations; see <see cref="DotRowsK{T}"/>.</summary>
    internal static unsafe void DotRowsK(Gguf.GgmlType type, byte* w, long rowBytes, int rows, byte* x, int blocks, float* y)
    {
        switch (type)
        {
            case Gguf.GgmlType.Q4_K: DotRowsK<Q4KDot>(w, rowBytes, rows, x, blocks, y); break;
            case Gguf.GgmlType.Q5_K: DotRowsK<Q5KDot>(w, rowBytes, rows, x, blocks, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(type), type, "Not a K-quant type.");
        }
    }

    internal static unsafe float DotQ4_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        float y;
        fixed (byte* pw = w, px = x)
            DotRowsK<Q4KDot>(pw, 0, 1, px, blocks, &y);
        return y;
    }

    internal static unsafe float DotQ5_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks)
    {
        float y;
        fixed (byte* pw = w, px = x)
            DotRowsK<Q5KDot>(pw, 0, 1, px, blocks, &y);
        return y;
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
                PrefetchAhead(bw, Q6KBlock.Bytes);
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
