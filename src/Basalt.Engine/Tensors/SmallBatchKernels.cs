using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>A few tokens at once (2 to <see cref="MaxTokens"/>: concurrent sequences decoding together): a range of weight rows against
/// T activation vectors quantized by <see cref="TensorOps.QuantizeActivations"/>. Each row is unpacked once into signed bytes with a
/// float scale per 16 weights (and a min per 32 for Q4_K), kept in L1, and dotted against every token, so a step over T sequences reads
/// and unpacks the weights once instead of T times. The activations' block scales and offsets are laid out once per call.</summary>
/// <remarks>One layout serves every type: a weight block of 32 values q (signed bytes) with scales s_lo, s_hi for its two halves and a
/// min m, against an activation block of 32 signed bytes qx with scale dx: dot = dx·(s_lo·Σ_lo q·qx + s_hi·Σ_hi q·qx − m·Σ qx).</remarks>
internal static class SmallBatchKernels
{
    /// <summary>Most tokens per call (the scheduler's decode steps; longer batches use the prompt tiles).</summary>
    public const int MaxTokens = 16;

    // Rows up to this many 32-weight blocks (8192 weights) are unpacked on the stack: 100 bytes a block, plus 8·T bytes a block of
    // activation scales; wider rows use the prompt tiles.
    private const int MaxBlocks = 256;

    // Tokens dotted together against a row held in registers: four accumulators plus the row's block, its scales and temporaries fit
    // the sixteen AVX2 registers.
    private const int TokenGroup = 4;

    /// <summary>True when <see cref="DotRows"/> handles rows of <paramref name="n"/> weights of <paramref name="type"/> on this machine.</summary>
    public static bool Supports(GgmlType type, int n) =>
        Avx2.IsSupported && Fma.IsSupported
        && type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q4_K or GgmlType.Q6_K
        && n % GgmlTypes.BlockSize(type) == 0 && n / 32 <= MaxBlocks && n > 0;

    /// <summary>y[outputs[j] + i] = row_i · x_j for <paramref name="rowCount"/> rows of <paramref name="n"/> weights and
    /// <paramref name="tokens"/> activation vectors of <paramref name="xBytes"/> bytes each, back to back in <paramref name="xq"/>.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n,
        Span<float> y, ReadOnlySpan<int> outputs)
    {
        if (!Supports(type, n))
            throw new NotSupportedException($"The small-batch kernels do not take {type} rows of {n} weights here; use the prompt tiles.");
        var rowBytes = TensorOps.RowSize(type, n);
        if (rowCount < 0 || rows.Length < (long)rowCount * rowBytes)
            throw new ArgumentException($"{rowCount} {type} rows of {n} elements take {(long)rowCount * rowBytes} bytes; got {rows.Length}.", nameof(rows));
        if (tokens < 1 || tokens > MaxTokens || outputs.Length < tokens)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"The small-batch kernels take 1 to {MaxTokens} tokens with an output offset each; got {tokens}.");
        if (xBytes != TensorOps.ActivationSize(type, n) || xq.Length < tokens * xBytes)
            throw new ArgumentException($"{tokens} activation vectors of {n} elements for {type} weights take {tokens * TensorOps.ActivationSize(type, n)} bytes.", nameof(xq));
        for (var j = 0; j < tokens; j++)
            if (outputs[j] < 0 || outputs[j] + rowCount > y.Length)
                throw new ArgumentOutOfRangeException(nameof(outputs), $"Output offset {outputs[j]} leaves no room for {rowCount} results in {y.Length}.");
        Run(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n / 32, y, outputs);
    }

    /// <summary>Reference: one checked single-row dot per (row, token).</summary>
    internal static void Reference(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n,
        Span<float> y, ReadOnlySpan<int> outputs)
    {
        var rowBytes = TensorOps.RowSize(type, n);
        for (var i = 0; i < rowCount; i++)
            for (var j = 0; j < tokens; j++)
                y[outputs[j] + i] = TensorOps.DotQ8(type, rows.Slice(i * rowBytes, rowBytes), xq.Slice(j * xBytes, xBytes), n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes,
        int tokens, int blocks, Span<float> y, ReadOnlySpan<int> outputs)
    {
        var kQuant = TensorOps.ActivationType(type) == GgmlType.Q8_K;
        var hasMin = type == GgmlType.Q4_K;
        // One scale per block (all but Q6_K, whose 16-weight halves have their own): the products of the row's block scales with the
        // tokens' activation scales are taken eight at a time per row, and the token loops multiply-add with a broadcast of one.
        var uniform = type != GgmlType.Q6_K;
        // Tokens padded to whole vectors in the block-major tables.
        var stride = (tokens + 7) & ~7;
        // Per row: |q| and q of every block, the eight lane scales of every block, the mins, the scale products.
        var absQ = stackalloc byte[blocks * 32];
        var q = stackalloc byte[blocks * 32];
        var scales = stackalloc float[blocks * 8];
        var mins = stackalloc float[blocks];
        var products = stackalloc float[uniform ? blocks * stride : 1];
        // Per call: where each activation block's bytes start, each (block, token)'s scale and scaled sum (for the mins).
        var xOffsets = stackalloc int[blocks];
        var dx = stackalloc float[blocks * stride];
        var xSums = stackalloc float[hasMin ? tokens * blocks : 1];
        new Span<float>(dx, blocks * stride).Clear();
        fixed (byte* pw = rows, px = xq)
        fixed (float* py = y)
        {
            for (var b = 0; b < blocks; b++)
                xOffsets[b] = kQuant ? b / 8 * Q8KBlock.Bytes + Q8KBlock.Qs + b % 8 * 32 : b * Q8_0Block.Bytes + Q8_0Block.Qs;
            for (var j = 0; j < tokens; j++)
            {
                var x = px + (long)j * xBytes;
                for (var b = 0; b < blocks; b++)
                {
                    if (kQuant)
                    {
                        var sb = x + b / 8 * Q8KBlock.Bytes;
                        var d = Unsafe.ReadUnaligned<float>(sb + Q8KBlock.D);
                        dx[b * stride + j] = d;
                        if (hasMin)
                        {
                            var sums = (short*)(sb + Q8KBlock.BSums) + 2 * (b % 8);
                            xSums[j * blocks + b] = d * (sums[0] + sums[1]);
                        }
                    }
                    else
                        dx[b * stride + j] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(x + b * Q8_0Block.Bytes));
                }
            }

            for (var r = 0; r < rowCount; r++)
            {
                Unpack(type, pw + (long)r * rowBytes, blocks, absQ, q, scales, mins);
                var j = 0;
                if (uniform)
                {
                    for (var b = 0; b < blocks; b++)
                    {
                        var w = Vector256.Create(scales[8 * b]);
                        for (var t = 0; t < stride; t += 8)
                            (w * Vector256.Load(dx + b * stride + t)).Store(products + b * stride + t);
                    }
                    for (; j + 8 <= tokens; j += 8)
                        DotGroup8(absQ, q, blocks, px + (long)j * xBytes, xBytes, xOffsets, products + j, stride, py, outputs.Slice(j, 8), r);
                    for (; j + 4 <= tokens; j += 4)
                        DotGroup4(absQ, q, blocks, px + (long)j * xBytes, xBytes, xOffsets, products + j, stride, py, outputs.Slice(j, 4), r);
                    for (; j + 2 <= tokens; j += 2)
                        DotGroup2(absQ, q, blocks, px + (long)j * xBytes, xBytes, xOffsets, products + j, stride, py, outputs.Slice(j, 2), r);
                    if (j < tokens)
                        py[outputs[j] + r] = DotOne(absQ, q, blocks, px + (long)j * xBytes, xOffsets, products + j, stride);
                }
                else
                {
                    for (; j + 4 <= tokens; j += 4)
                        DotGroup4Lanes(absQ, q, scales, blocks, px + (long)j * xBytes, xBytes, xOffsets, dx + j, stride, py, outputs.Slice(j, 4), r);
                    for (; j < tokens; j++)
                        py[outputs[j] + r] = DotOneLanes(absQ, q, scales, blocks, px + (long)j * xBytes, xOffsets, dx + j, stride);
                }
                if (hasMin)
                    for (j = 0; j < tokens; j++)
                        py[outputs[j] + r] -= MinTerm(mins, xSums + j * blocks, blocks);
            }
        }
    }

    // Eight tokens against one unpacked row (a full step of eight sequences in one pass): each block's |q| and q are loaded once for
    // the eight; eight accumulators, the two row vectors, the ones and a temporary fit the sixteen registers.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotGroup8(byte* absQ, byte* q, int blocks, byte* x, int xBytes, int* xOffsets, float* p, int stride,
        float* y, ReadOnlySpan<int> outputs, int r)
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        var pb = p;
        for (var b = 0; b < blocks; b++, pb += stride)
        {
            var aq = Vector256.Load(absQ + 32 * b);
            var sq = Vector256.Load((sbyte*)(q + 32 * b));
            var xb = x + xOffsets[b];
            a0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb, ones)), Vector256.Create(pb[0]), a0);
            a1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + xBytes, ones)), Vector256.Create(pb[1]), a1);
            a2 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + 2 * xBytes, ones)), Vector256.Create(pb[2]), a2);
            a3 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + 3 * xBytes, ones)), Vector256.Create(pb[3]), a3);
            a4 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + 4 * xBytes, ones)), Vector256.Create(pb[4]), a4);
            a5 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + 5 * xBytes, ones)), Vector256.Create(pb[5]), a5);
            a6 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + 6 * xBytes, ones)), Vector256.Create(pb[6]), a6);
            a7 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, xb + 7 * xBytes, ones)), Vector256.Create(pb[7]), a7);
        }
        y[outputs[0] + r] = Vector256.Sum(a0);
        y[outputs[1] + r] = Vector256.Sum(a1);
        y[outputs[2] + r] = Vector256.Sum(a2);
        y[outputs[3] + r] = Vector256.Sum(a3);
        y[outputs[4] + r] = Vector256.Sum(a4);
        y[outputs[5] + r] = Vector256.Sum(a5);
        y[outputs[6] + r] = Vector256.Sum(a6);
        y[outputs[7] + r] = Vector256.Sum(a7);
    }

    // Four tokens against one unpacked row: each block's bytes are loaded once for the four; p[b * stride + t] is the block's scale
    // times token t's.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotGroup4(byte* absQ, byte* q, int blocks, byte* x, int xBytes, int* xOffsets, float* p, int stride,
        float* y, ReadOnlySpan<int> outputs, int r)
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x0 = x, x1 = x + xBytes, x2 = x + 2 * xBytes, x3 = x + 3 * xBytes;
        var pb = p;
        for (var b = 0; b < blocks; b++, pb += stride)
        {
            var aq = Vector256.Load(absQ + 32 * b);
            var sq = Vector256.Load((sbyte*)(q + 32 * b));
            var o = xOffsets[b];
            a0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x0 + o, ones)), Vector256.Create(pb[0]), a0);
            a1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x1 + o, ones)), Vector256.Create(pb[1]), a1);
            a2 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x2 + o, ones)), Vector256.Create(pb[2]), a2);
            a3 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x3 + o, ones)), Vector256.Create(pb[3]), a3);
        }
        y[outputs[0] + r] = Vector256.Sum(a0);
        y[outputs[1] + r] = Vector256.Sum(a1);
        y[outputs[2] + r] = Vector256.Sum(a2);
        y[outputs[3] + r] = Vector256.Sum(a3);
    }

    // Two tokens, two accumulators each (even and odd blocks) so the multiply-adds do not wait on each other.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotGroup2(byte* absQ, byte* q, int blocks, byte* x, int xBytes, int* xOffsets, float* p, int stride,
        float* y, ReadOnlySpan<int> outputs, int r)
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> a0 = default, a1 = default, c0 = default, c1 = default;
        byte* x0 = x, x1 = x + xBytes;
        var b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            var o = xOffsets[b];
            var pb = p + b * stride;
            var aq = Vector256.Load(absQ + 32 * b);
            var sq = Vector256.Load((sbyte*)(q + 32 * b));
            a0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x0 + o, ones)), Vector256.Create(pb[0]), a0);
            a1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x1 + o, ones)), Vector256.Create(pb[1]), a1);
            o = xOffsets[b + 1];
            pb += stride;
            aq = Vector256.Load(absQ + 32 * b + 32);
            sq = Vector256.Load((sbyte*)(q + 32 * b + 32));
            c0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x0 + o, ones)), Vector256.Create(pb[0]), c0);
            c1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x1 + o, ones)), Vector256.Create(pb[1]), c1);
        }
        if (b < blocks)
        {
            var o = xOffsets[b];
            var pb = p + b * stride;
            var aq = Vector256.Load(absQ + 32 * b);
            var sq = Vector256.Load((sbyte*)(q + 32 * b));
            a0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x0 + o, ones)), Vector256.Create(pb[0]), a0);
            a1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x1 + o, ones)), Vector256.Create(pb[1]), a1);
        }
        y[outputs[0] + r] = Vector256.Sum(a0 + c0);
        y[outputs[1] + r] = Vector256.Sum(a1 + c1);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe float DotOne(byte* absQ, byte* q, int blocks, byte* x, int* xOffsets, float* p, int stride)
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> a = default, c = default;
        var b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            a = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(Vector256.Load(absQ + 32 * b), Vector256.Load((sbyte*)(q + 32 * b)), x + xOffsets[b], ones)),
                Vector256.Create(p[b * stride]), a);
            c = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(Vector256.Load(absQ + 32 * b + 32), Vector256.Load((sbyte*)(q + 32 * b + 32)), x + xOffsets[b + 1], ones)),
                Vector256.Create(p[(b + 1) * stride]), c);
        }
        if (b < blocks)
            a = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(Vector256.Load(absQ + 32 * b), Vector256.Load((sbyte*)(q + 32 * b)), x + xOffsets[b], ones)),
                Vector256.Create(p[b * stride]), a);
        return Vector256.Sum(a + c);
    }

    // Q6_K: each block's two halves have their own scale, so the lane scales multiply each token's activation scale.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotGroup4Lanes(byte* absQ, byte* q, float* scales, int blocks, byte* x, int xBytes, int* xOffsets, float* dx, int stride,
        float* y, ReadOnlySpan<int> outputs, int r)
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        byte* x0 = x, x1 = x + xBytes, x2 = x + 2 * xBytes, x3 = x + 3 * xBytes;
        for (var b = 0; b < blocks; b++)
        {
            var aq = Vector256.Load(absQ + 32 * b);
            var sq = Vector256.Load((sbyte*)(q + 32 * b));
            var s = Vector256.Load(scales + 8 * b);
            var o = xOffsets[b];
            var d = dx + b * stride;
            a0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x0 + o, ones)), s * Vector256.Create(d[0]), a0);
            a1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x1 + o, ones)), s * Vector256.Create(d[1]), a1);
            a2 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x2 + o, ones)), s * Vector256.Create(d[2]), a2);
            a3 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockDot(aq, sq, x3 + o, ones)), s * Vector256.Create(d[3]), a3);
        }
        y[outputs[0] + r] = Vector256.Sum(a0);
        y[outputs[1] + r] = Vector256.Sum(a1);
        y[outputs[2] + r] = Vector256.Sum(a2);
        y[outputs[3] + r] = Vector256.Sum(a3);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe float DotOneLanes(byte* absQ, byte* q, float* scales, int blocks, byte* x, int* xOffsets, float* dx, int stride)
    {
        var ones = Vector256.Create((short)1);
        var a = Vector256<float>.Zero;
        for (var b = 0; b < blocks; b++)
        {
            var dot = BlockDot(Vector256.Load(absQ + 32 * b), Vector256.Load((sbyte*)(q + 32 * b)), x + xOffsets[b], ones);
            a = Fma.MultiplyAdd(Vector256.ConvertToSingle(dot), Vector256.Load(scales + 8 * b) * Vector256.Create(dx[b * stride]), a);
        }
        return Vector256.Sum(a);
    }

    // Lane i: the sum of q·qx over bytes 4i..4i+3 (lanes 0-3 the block's first half, 4-7 its second). |q|·sign(qx, q) = q·qx keeps the
    // unsigned-by-signed multiply exact: |q| ≤ 128 and |qx| ≤ 127, so a pair of products stays within a short.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockDot(Vector256<byte> absQ, Vector256<sbyte> q, byte* x, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absQ, Avx2.Sign(Vector256.Load((sbyte*)x), q)), ones);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float MinTerm(float* mins, float* xSums, int blocks)
    {
        var sum = 0f;
        for (var b = 0; b < blocks; b++)
            sum += mins[b] * xSums[b];
        return sum;
    }

    // ---------- unpacking one row into the common layout ----------

    private static unsafe void Unpack(GgmlType type, byte* row, int blocks, byte* absQ, byte* q, float* scales, float* mins)
    {
        switch (type)
        {
            case GgmlType.Q8_0:
                for (var b = 0; b < blocks; b++)
                {
                    var blk = row + b * Q8_0Block.Bytes;
                    Store(Vector256.Load((sbyte*)(blk + Q8_0Block.Qs)), absQ, q, b);
                    Vector256.Create(HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q8_0Block.D))).Store(scales + 8 * b);
                }
                break;
            case GgmlType.Q4_0:
                for (var b = 0; b < blocks; b++)
                {
                    var blk = row + b * Q4_0Block.Bytes;
                    Store((QuantKernels.Nibbles32(blk + Q4_0Block.Qs) - Vector256.Create((byte)8)).AsSByte(), absQ, q, b);
                    Vector256.Create(HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q4_0Block.D))).Store(scales + 8 * b);
                }
                break;
            case GgmlType.Q5_0:
                for (var b = 0; b < blocks; b++)
                {
                    var blk = row + b * Q5_0Block.Bytes;
                    var values = QuantKernels.Unpack5Bit(ref *blk, Q5_0Block.Qs, Q5_0Block.Qh);
                    Store((values - Vector256.Create((byte)16)).AsSByte(), absQ, q, b);
                    Vector256.Create(HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q5_0Block.D))).Store(scales + 8 * b);
                }
                break;
            case GgmlType.Q4_K:
                for (var sb = 0; sb < blocks / 8; sb++)
                {
                    var blk = row + sb * Q4KBlock.Bytes;
                    var d = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q4KBlock.D));
                    var dMin = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q4KBlock.DMin));
                    var packed = new ReadOnlySpan<byte>(blk + Q4KBlock.Scales, Q4KBlock.ScaleBytes);
                    for (var c = 0; c < 4; c++)
                    {
                        // 32 bytes hold two blocks: the low nibbles are block 2c, the high nibbles block 2c + 1.
                        var raw = Vector256.Load(blk + Q4KBlock.Qs + 32 * c);
                        var mask = Vector256.Create((byte)0x0F);
                        var b = 8 * sb + 2 * c;
                        Store((raw & mask).AsSByte(), absQ, q, b);
                        Store((Vector256.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask).AsSByte(), absQ, q, b + 1);
                        for (var h = 0; h < 2; h++)
                        {
                            Dequantize.ScaleMinK4(2 * c + h, packed, out var scale, out var min);
                            Vector256.Create(d * scale).Store(scales + 8 * (b + h));
                            mins[b + h] = dMin * min;
                        }
                    }
                }
                break;
            default: // Q6_K
                for (var sb = 0; sb < blocks / 8; sb++)
                {
                    var blk = row + sb * Q6KBlock.Bytes;
                    var d = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q6KBlock.D));
                    var subScales = (sbyte*)(blk + Q6KBlock.Scales);
                    for (var g = 0; g < 8; g++)
                    {
                        // Block g of the super-block: half n = g / 4, quarter k = g % 4 (see Dequantize.Q6KValue).
                        int n = g >> 2, k = g & 3;
                        var ql = Vector256.Load(blk + Q6KBlock.Ql + 64 * n + 32 * (k & 1));
                        var low = k < 2 ? ql & Vector256.Create((byte)0x0F) : Vector256.ShiftRightLogical(ql.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0F);
                        var qh = Vector256.Load(blk + Q6KBlock.Qh + 32 * n);
                        var high = Vector256.ShiftLeft(Vector256.ShiftRightLogical(qh.AsUInt16(), 2 * k).AsByte() & Vector256.Create((byte)3), 4);
                        var b = 8 * sb + g;
                        Store(((low | high) - Vector256.Create((byte)32)).AsSByte(), absQ, q, b);
                        Vector256.Create(Vector128.Create(d * subScales[2 * g]), Vector128.Create(d * subScales[2 * g + 1])).Store(scales + 8 * b);
                    }
                }
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(Vector256<sbyte> values, byte* absQ, byte* q, int b)
    {
        Vector256.Abs(values).AsByte().Store(absQ + 32 * b);
        values.AsByte().Store(q + 32 * b);
    }

}
