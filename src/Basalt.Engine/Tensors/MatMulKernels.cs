using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

public static partial class TensorOps
{
    /// <summary>Dots <paramref name="rowCount"/> consecutive weight rows of <paramref name="n"/> elements (<paramref name="rows"/>, in the type's
    /// encoding) with <paramref name="tokens"/> activation rows quantized by <see cref="QuantizeActivations"/> and laid back to back in
    /// <paramref name="xq"/> (<see cref="ActivationSize"/> bytes each): <c>y[j * rowCount + i] = row_i · x_j</c>.
    /// The rows stay in cache while every activation row passes over them, so a batch reads each weight byte once.</summary>
    public static void DotQ8Rows(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int tokens, int n, Span<float> y)
    {
        if (!IsSupported(type))
            throw Unsupported(type);
        if (n <= 0 || n % GgmlTypes.BlockSize(type) != 0)
            throw new ArgumentException($"A {type} row needs a positive multiple of {GgmlTypes.BlockSize(type)} elements; got {n}.", nameof(n));
        var rowBytes = RowSize(type, n);
        var xBytes = ActivationSize(type, n);
        if (rowCount < 0 || rows.Length < (long)rowCount * rowBytes)
            throw new ArgumentException($"{rowCount} {type} rows of {n} elements take {(long)rowCount * rowBytes} bytes; got {rows.Length}.", nameof(rows));
        if (tokens < 0 || xq.Length < (long)tokens * xBytes)
            throw new ArgumentException($"{tokens} activation rows of {n} elements for {type} weights take {(long)tokens * xBytes} bytes; got {xq.Length}.", nameof(xq));
        if (y.Length < (long)tokens * rowCount)
            throw new ArgumentException($"The output needs {(long)tokens * rowCount} floats; got {y.Length}.", nameof(y));
        MatMulKernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
    }
}

/// <summary>Tiles of weight rows against a batch of quantized activation rows (prompt processing, batched decoding).
/// Quantized tiles are first decoded into one common form (signed bytes per element, a float scale per 16 elements, a float offset per 32)
/// that one AVX2 micro-kernel dots with two weight rows and four activation rows at a time: each weight vector is loaded once for four tokens
/// and each activation vector once for two rows. The decode costs about one pass over the tile and is repaid across the batch.
/// <see cref="DotRowsReference"/> (dequantize, then a double-precision dot) is the scalar reference the tests compare every path against.</summary>
internal static unsafe class MatMulKernels
{
    private const int Block = 32;
    private const int RowTile = 2;
    private const int TokenTile = 4;

    // Per-thread scratch for the decoded tile and the activations' scales; grown on first use, then reused (no allocation per call).
    [ThreadStatic] private static sbyte[]? t_values;
    [ThreadStatic] private static float[]? t_scales, t_offsets, t_dx, t_xsum;
    [ThreadStatic] private static int[]? t_xoff;

    private static T[] Scratch<T>(ref T[]? buffer, int length) => buffer is { } b && b.Length >= length ? b : buffer = new T[Math.Max(length, 1024)];

    /// <summary>y[j * rowCount + i] = row_i · x_j; arguments already checked.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.F32 or GgmlType.F16 or GgmlType.BF16:
                F16Kernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
                break;
            default:
                if (Avx2.IsSupported && Fma.IsSupported && n % Block == 0 && type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K)
                    DotRowsQuantizedAvx2(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
                else
                    for (var i = 0; i < rowCount; i++)
                    {
                        var row = rows.Slice(i * rowBytes, rowBytes);
                        for (var j = 0; j < tokens; j++)
                            y[j * rowCount + i] = TensorOps.DotQ8(type, row, xq.Slice(j * xBytes, xBytes), n);
                    }
                break;
        }
    }

    private static void DotRowsQuantizedAvx2(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        if (type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K)
        {
            DotRowsKQuantAvx2(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
            return;
        }
        var nb = n / Block;
        var values = Scratch(ref t_values, rowCount * n);
        var scales = Scratch(ref t_scales, rowCount * nb * 8);
        var offsets = Scratch(ref t_offsets, rowCount * nb);
        var dx = Scratch(ref t_dx, tokens * nb);
        var xsum = Scratch(ref t_xsum, tokens * nb);
        var xoff = Scratch(ref t_xoff, nb);
        var hasOffsets = type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q5_1;
        for (var r = 0; r < rowCount; r++)
            DecodeRow(type, rows.Slice(r * rowBytes, rowBytes), nb, values.AsSpan(r * n, n), scales.AsSpan(r * nb * 8, nb * 8), offsets.AsSpan(r * nb, nb));
        var kBlocks = TensorOps.ActivationType(type) == GgmlType.Q8_K;
        ActivationScales(kBlocks, xq, xBytes, tokens, nb, xoff, dx, xsum, hasOffsets);

        fixed (sbyte* pv = values)
        fixed (float* ps = scales, pdx = dx)
        fixed (byte* px = xq)
        fixed (int* po = xoff)
        {
            Span<float> sums = stackalloc float[RowTile * TokenTile];
            for (var r = 0; r < rowCount; r += RowTile)
            {
                // Ragged edges reuse the last row or token and drop its results: the kernel always runs a full 2 x 4 tile.
                var r1 = Math.Min(r + 1, rowCount - 1);
                for (var j = 0; j < tokens; j += TokenTile)
                {
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    Kernel2x4(pv + r * n, pv + r1 * n, ps + r * nb * 8, ps + r1 * nb * 8,
                        px + j * xBytes, px + j1 * xBytes, px + j2 * xBytes, px + j3 * xBytes,
                        pdx + j * nb, pdx + j1 * nb, pdx + j2 * nb, pdx + j3 * nb, po, nb, sums);
                    for (var a = 0; a < RowTile && r + a < rowCount; a++)
                        for (var b = 0; b < TokenTile && j + b < tokens; b++)
                        {
                            var v = sums[a * TokenTile + b];
                            if (hasOffsets)
                                v -= FloatKernels.DotF32(offsets.AsSpan((r + a) * nb, nb), xsum.AsSpan((j + b) * nb, nb));
                            y[(j + b) * rowCount + r + a] = v;
                        }
                }
            }
        }
    }

    // Two rows by four tokens over nb blocks of 32: per block and pair, sign trick (|w| as unsigned bytes times sign-adjusted x),
    // pairwise sums to int32, then scaled by the row's per-16 scales times the token's block scale into a float accumulator.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel2x4(sbyte* w0, sbyte* w1, float* s0, float* s1, byte* x0, byte* x1, byte* x2, byte* x3,
        float* d0, float* d1, float* d2, float* d3, int* xoff, int nb, Span<float> sums)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        var ones = Vector256.Create((short)1);
        for (var b = 0; b < nb; b++)
        {
            var wv0 = Avx.LoadVector256(w0 + b * Block);
            var wv1 = Avx.LoadVector256(w1 + b * Block);
            var u0 = Avx2.Abs(wv0);
            var u1 = Avx2.Abs(wv1);
            var sc0 = Avx.LoadVector256(s0 + b * 8);
            var sc1 = Avx.LoadVector256(s1 + b * 8);
            var o = xoff[b];

            var xv = Avx.LoadVector256((sbyte*)(x0 + o));
            var dv = Vector256.Create(d0[b]);
            a00 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(xv, wv0)), ones)), sc0 * dv, a00);
            a10 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(xv, wv1)), ones)), sc1 * dv, a10);
            xv = Avx.LoadVector256((sbyte*)(x1 + o));
            dv = Vector256.Create(d1[b]);
            a01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(xv, wv0)), ones)), sc0 * dv, a01);
            a11 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(xv, wv1)), ones)), sc1 * dv, a11);
            xv = Avx.LoadVector256((sbyte*)(x2 + o));
            dv = Vector256.Create(d2[b]);
            a02 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(xv, wv0)), ones)), sc0 * dv, a02);
            a12 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(xv, wv1)), ones)), sc1 * dv, a12);
            xv = Avx.LoadVector256((sbyte*)(x3 + o));
            dv = Vector256.Create(d3[b]);
            a03 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(xv, wv0)), ones)), sc0 * dv, a03);
            a13 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(xv, wv1)), ones)), sc1 * dv, a13);
        }
        sums[0] = Vector256.Sum(a00); sums[1] = Vector256.Sum(a01); sums[2] = Vector256.Sum(a02); sums[3] = Vector256.Sum(a03);
        sums[4] = Vector256.Sum(a10); sums[5] = Vector256.Sum(a11); sums[6] = Vector256.Sum(a12); sums[7] = Vector256.Sum(a13);
    }

    [ThreadStatic] private static short[]? t_intScales;
    [ThreadStatic] private static float[]? t_superScales, t_groupOffsets, t_groupSums, t_xd;

    // K-quants against Q8_K activations: the weights' 4- to 6-bit values are non-negative once the Q6_K offset of 32 moves into a
    // per-16 correction, so u8 x s8 multiply-adds need no sign trick; the sub-block scales are integers, applied by the pairwise
    // 16-bit multiply-add, so each pair accumulates in int32 over a 256-weight super-block and converts to float once per super-block.
    private static void DotRowsKQuantAvx2(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        var nb = n / Block;
        var nsb = n / Q8KBlock.Size;
        var ng = n / 16;
        var values = Scratch(ref t_values, rowCount * n);
        var scales = Scratch(ref t_intScales, rowCount * nb * 16);
        var dw = Scratch(ref t_superScales, rowCount * nsb);
        var offsets = Scratch(ref t_groupOffsets, rowCount * ng);
        var xsum = Scratch(ref t_groupSums, tokens * ng);
        var dx = Scratch(ref t_xd, tokens * nsb);
        for (var r = 0; r < rowCount; r++)
            DecodeRowK(type, rows.Slice(r * rowBytes, rowBytes), nsb, values.AsSpan(r * n, n), scales.AsSpan(r * nb * 16, nb * 16), dw.AsSpan(r * nsb, nsb), offsets.AsSpan(r * ng, ng));
        for (var j = 0; j < tokens; j++)
        {
            var x = xq.Slice(j * xBytes, xBytes);
            for (var sb = 0; sb < nsb; sb++)
            {
                var d = MemoryMarshal.Read<float>(x[(sb * Q8KBlock.Bytes + Q8KBlock.D)..]);
                dx[j * nsb + sb] = d;
                for (var g = 0; g < 16; g++)
                    xsum[j * ng + sb * 16 + g] = d * MemoryMarshal.Read<short>(x[(sb * Q8KBlock.Bytes + Q8KBlock.BSums + 2 * g)..]);
            }
        }
        fixed (sbyte* pv = values)
        fixed (short* ps = scales)
        fixed (float* pd = dw, pdx = dx)
        fixed (byte* px = xq)
        {
            Span<float> sums = stackalloc float[RowTile * TokenTile];
            for (var r = 0; r < rowCount; r += RowTile)
            {
                var r1 = Math.Min(r + 1, rowCount - 1);
                for (var j = 0; j < tokens; j += TokenTile)
                {
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    KernelK2x4((byte*)(pv + r * n), (byte*)(pv + r1 * n), ps + r * nb * 16, ps + r1 * nb * 16, pd + r * nsb, pd + r1 * nsb,
                        px + j * xBytes, px + j1 * xBytes, px + j2 * xBytes, px + j3 * xBytes,
                        pdx + j * nsb, pdx + j1 * nsb, pdx + j2 * nsb, pdx + j3 * nsb, nsb, sums);
                    for (var a = 0; a < RowTile && r + a < rowCount; a++)
                        for (var b = 0; b < TokenTile && j + b < tokens; b++)
                            y[(j + b) * rowCount + r + a] = sums[a * TokenTile + b]
                                - FloatKernels.DotF32(offsets.AsSpan((r + a) * ng, ng), xsum.AsSpan((j + b) * ng, ng));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelK2x4(byte* w0, byte* w1, short* s0, short* s1, float* dw0, float* dw1, byte* x0, byte* x1, byte* x2, byte* x3,
        float* d0, float* d1, float* d2, float* d3, int nsb, Span<float> sums)
    {
        Vector256<float> f00 = default, f01 = default, f02 = default, f03 = default;
        Vector256<float> f10 = default, f11 = default, f12 = default, f13 = default;
        for (var sb = 0; sb < nsb; sb++)
        {
            Vector256<int> i00 = default, i01 = default, i02 = default, i03 = default;
            Vector256<int> i10 = default, i11 = default, i12 = default, i13 = default;
            var xo = sb * Q8KBlock.Bytes + Q8KBlock.Qs;
            for (var k = 0; k < 8; k++)
            {
                var b = sb * 8 + k;
                var wv0 = Avx.LoadVector256(w0 + b * Block);
                var wv1 = Avx.LoadVector256(w1 + b * Block);
                var sc0 = Avx.LoadVector256(s0 + b * 16);
                var sc1 = Avx.LoadVector256(s1 + b * 16);
                var o = xo + k * Block;
                var xv = Avx.LoadVector256((sbyte*)(x0 + o));
                i00 = Avx2.Add(i00, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i10 = Avx2.Add(i10, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
                xv = Avx.LoadVector256((sbyte*)(x1 + o));
                i01 = Avx2.Add(i01, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i11 = Avx2.Add(i11, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
                xv = Avx.LoadVector256((sbyte*)(x2 + o));
                i02 = Avx2.Add(i02, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i12 = Avx2.Add(i12, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
                xv = Avx.LoadVector256((sbyte*)(x3 + o));
                i03 = Avx2.Add(i03, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i13 = Avx2.Add(i13, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
            }
            var e0 = Vector256.Create(dw0[sb]);
            var e1 = Vector256.Create(dw1[sb]);
            f00 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i00), e0 * Vector256.Create(d0[sb]), f00);
            f01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i01), e0 * Vector256.Create(d1[sb]), f01);
            f02 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i02), e0 * Vector256.Create(d2[sb]), f02);
            f03 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i03), e0 * Vector256.Create(d3[sb]), f03);
            f10 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i10), e1 * Vector256.Create(d0[sb]), f10);
            f11 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i11), e1 * Vector256.Create(d1[sb]), f11);
            f12 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i12), e1 * Vector256.Create(d2[sb]), f12);
            f13 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i13), e1 * Vector256.Create(d3[sb]), f13);
        }
        sums[0] = Vector256.Sum(f00); sums[1] = Vector256.Sum(f01); sums[2] = Vector256.Sum(f02); sums[3] = Vector256.Sum(f03);
        sums[4] = Vector256.Sum(f10); sums[5] = Vector256.Sum(f11); sums[6] = Vector256.Sum(f12); sums[7] = Vector256.Sum(f13);
    }

    /// <summary>One K-quant row for <see cref="KernelK2x4"/>: unsigned values per element, per block of 32 sixteen int16 scales (the first
    /// 16 elements' scale eight times, then the last 16's), d per super-block, and per group of 16 the offset d_min*min (or 32*d*scale
    /// for Q6_K) subtracted from each element. Element = d * scale * value - offset.</summary>
    private static void DecodeRowK(GgmlType type, ReadOnlySpan<byte> row, int nsb, Span<sbyte> values, Span<short> scales, Span<float> dw, Span<float> offsets)
    {
        if (type == GgmlType.Q6_K)
        {
            var m4b = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x30);
            for (var sb = 0; sb < nsb; sb++)
            {
                var blk = row.Slice(sb * Q6KBlock.Bytes, Q6KBlock.Bytes);
                var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q6KBlock.D..]));
                dw[sb] = d;
                for (var half = 0; half < 2; half++)
                {
                    var qa = Vector256.Create(blk.Slice(Q6KBlock.Ql + 64 * half, 32));
                    var qb = Vector256.Create(blk.Slice(Q6KBlock.Ql + 64 * half + 32, 32));
                    var qhv = Vector256.Create(blk.Slice(Q6KBlock.Qh + 32 * half, 32));
                    var h16 = qhv.AsUInt16();
                    var b0 = sb * 8 + 4 * half;
                    ((qa & m4b) | (Vector256.ShiftLeft(h16, 4).AsByte() & m2)).AsSByte().CopyTo(values.Slice(b0 * Block, Block));
                    ((qb & m4b) | (Vector256.ShiftLeft(h16, 2).AsByte() & m2)).AsSByte().CopyTo(values.Slice((b0 + 1) * Block, Block));
                    ((Vector256.ShiftRightLogical(qa.AsUInt16(), 4).AsByte() & m4b) | (qhv & m2)).AsSByte().CopyTo(values.Slice((b0 + 2) * Block, Block));
                    ((Vector256.ShiftRightLogical(qb.AsUInt16(), 4).AsByte() & m4b) | (Vector256.ShiftRightLogical(h16, 2).AsByte() & m2)).AsSByte().CopyTo(values.Slice((b0 + 3) * Block, Block));
                }
                for (var g = 0; g < 16; g++)
                {
                    var sc = (sbyte)blk[Q6KBlock.Scales + g];
                    scales.Slice(sb * 128 + g * 8, 8).Fill(sc);
                    offsets[sb * 16 + g] = 32 * d * sc;
                }
            }
            return;
        }
        var five = type == GgmlType.Q5_K;
        var bytes = five ? Q5KBlock.Bytes : Q4KBlock.Bytes;
        var m4 = Vector256.Create((byte)0x0F);
        for (var sb = 0; sb < nsb; sb++)
        {
            var blk = row.Slice(sb * bytes, bytes);
            var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q4KBlock.D..]));
            var dmin = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q4KBlock.DMin..]));
            dw[sb] = d;
            var packed = blk.Slice(Q4KBlock.Scales, Q4KBlock.ScaleBytes);
            var qh = five ? Vector256.Create(blk.Slice(Q5KBlock.Qh, 32)) : default;
            var qsAt = five ? Q5KBlock.Qs : Q4KBlock.Qs;
            for (var c = 0; c < 4; c++)
            {
                var q = Vector256.Create(blk.Slice(qsAt + 32 * c, 32));
                var lo = q & m4;
                var hi = Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
                if (five)
                {
                    var sixteen = Vector256.Create((byte)16);
                    var bit0 = Vector256.Create((byte)(1 << (2 * c)));
                    var bit1 = Vector256.Create((byte)(2 << (2 * c)));
                    lo |= Vector256.Equals(qh & bit0, bit0) & sixteen;
                    hi |= Vector256.Equals(qh & bit1, bit1) & sixteen;
                }
                var b0 = sb * 8 + 2 * c;
                lo.AsSByte().CopyTo(values.Slice(b0 * Block, Block));
                hi.AsSByte().CopyTo(values.Slice((b0 + 1) * Block, Block));
                for (var h = 0; h < 2; h++)
                {
                    Dequantize.ScaleMinK4(2 * c + h, packed, out var sc, out var mn);
                    scales.Slice((b0 + h) * 16, 16).Fill((short)sc);
                    offsets[(b0 + h) * 2] = offsets[(b0 + h) * 2 + 1] = dmin * mn;
                }
            }
        }
    }

    /// <summary>Per block of 32 of each activation row: where its bytes start, its scale, and (for weights with offsets) scale x sum of its bytes.</summary>
    private static void ActivationScales(bool kBlocks, ReadOnlySpan<byte> xq, int xBytes, int tokens, int nb, Span<int> xoff, Span<float> dx, Span<float> xsum, bool sums)
    {
        for (var b = 0; b < nb; b++)
            xoff[b] = kBlocks ? b / 8 * Q8KBlock.Bytes + Q8KBlock.Qs + b % 8 * Block : b * Q8_0Block.Bytes + Q8_0Block.Qs;
        for (var j = 0; j < tokens; j++)
        {
            var x = xq.Slice(j * xBytes, xBytes);
            for (var b = 0; b < nb; b++)
            {
                float d;
                if (kBlocks)
                {
                    var sb = b / 8 * Q8KBlock.Bytes;
                    d = MemoryMarshal.Read<float>(x[(sb + Q8KBlock.D)..]);
                    if (sums)
                    {
                        var at = sb + Q8KBlock.BSums + b % 8 * 4;
                        xsum[j * nb + b] = d * (MemoryMarshal.Read<short>(x[at..]) + MemoryMarshal.Read<short>(x[(at + 2)..]));
                    }
                }
                else
                {
                    d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(x[(b * Q8_0Block.Bytes)..]));
                    if (sums)
                    {
                        var v = Vector256.Create(x.Slice(b * Q8_0Block.Bytes + Q8_0Block.Qs, Block)).AsSByte();
                        var (lo, hi) = Vector256.Widen(v);
                        xsum[j * nb + b] = d * Vector256.Sum(lo + hi);
                    }
                }
                dx[j * nb + b] = d;
            }
        }
    }

    /// <summary>One weight row into the common form: n signed bytes, 8 floats per block of 32 (the scale of its first 16 elements four times,
    /// then that of its last 16), and per block the offset subtracted from each element (K-quants' mins). Element = scale * byte - offset.</summary>
    private static void DecodeRow(GgmlType type, ReadOnlySpan<byte> row, int nb, Span<sbyte> values, Span<float> scales, Span<float> offsets)
    {
        switch (type)
        {
            case GgmlType.Q8_0:
                for (var b = 0; b < nb; b++)
                {
                    var blk = row.Slice(b * Q8_0Block.Bytes, Q8_0Block.Bytes);
                    MemoryMarshal.Cast<byte, sbyte>(blk.Slice(Q8_0Block.Qs, Block)).CopyTo(values.Slice(b * Block, Block));
                    SetScales(scales, b, HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk)));
                }
                break;
            case GgmlType.Q4_0:
                for (var b = 0; b < nb; b++)
                {
                    var blk = row.Slice(b * Q4_0Block.Bytes, Q4_0Block.Bytes);
                    var raw = Vector128.Create(blk.Slice(Q4_0Block.Qs, 16));
                    var mask = Vector128.Create((byte)0x0F);
                    var lo = raw & mask;
                    var hi = Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask;
                    (Vector256.Create(lo, hi) - Vector256.Create((byte)8)).AsSByte().CopyTo(values.Slice(b * Block, Block));
                    SetScales(scales, b, HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk)));
                }
                break;
            case GgmlType.Q5_0 or GgmlType.Q5_1:
                var q51 = type == GgmlType.Q5_1;
                var bb = q51 ? Q5_1Block.Bytes : Q5_0Block.Bytes;
                var nib = Vector128.Create((byte)0x0F);
                // Byte i of the spread takes bit i of qh: each lane broadcasts the qh byte holding its bit, then tests it.
                var spread = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
                var bits = Vector256.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
                for (var b = 0; b < nb; b++)
                {
                    var blk = row.Slice(b * bb, bb);
                    var raw = Vector128.Create(blk.Slice(q51 ? Q5_1Block.Qs : Q5_0Block.Qs, 16));
                    var q = Vector256.Create(raw & nib, Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & nib);
                    var qh = Vector256.Create(MemoryMarshal.Read<uint>(blk[(q51 ? Q5_1Block.Qh : Q5_0Block.Qh)..])).AsByte();
                    var high = Vector256.Equals(Vector256.Shuffle(qh, spread) & bits, bits) & Vector256.Create((byte)16);
                    var v = (q | high).AsSByte();
                    var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk));
                    if (q51)
                        offsets[b] = -HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q5_1Block.M..]));
                    else
                        v -= Vector256.Create((sbyte)16);
                    v.CopyTo(values.Slice(b * Block, Block));
                    SetScales(scales, b, d);
                }
                break;
            case GgmlType.Q4_K or GgmlType.Q5_K:
                var five = type == GgmlType.Q5_K;
                var bytes = five ? Q5KBlock.Bytes : Q4KBlock.Bytes;
                var m4 = Vector256.Create((byte)0x0F);
                for (var sb = 0; sb < nb / 8; sb++)
                {
                    var blk = row.Slice(sb * bytes, bytes);
                    var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q4KBlock.D..]));
                    var dmin = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q4KBlock.DMin..]));
                    var packed = blk.Slice(Q4KBlock.Scales, Q4KBlock.ScaleBytes);
                    var qh = five ? Vector256.Create(blk.Slice(Q5KBlock.Qh, 32)) : default;
                    var qsAt = five ? Q5KBlock.Qs : Q4KBlock.Qs;
                    for (var c = 0; c < 4; c++)
                    {
                        var q = Vector256.Create(blk.Slice(qsAt + 32 * c, 32));
                        var lo = q & m4;
                        var hi = Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
                        if (five)
                        {
                            var sixteen = Vector256.Create((byte)16);
                            var bit0 = Vector256.Create((byte)(1 << (2 * c)));
                            var bit1 = Vector256.Create((byte)(2 << (2 * c)));
                            lo |= Vector256.Equals(qh & bit0, bit0) & sixteen;
                            hi |= Vector256.Equals(qh & bit1, bit1) & sixteen;
                        }
                        var b0 = sb * 8 + 2 * c;
                        lo.AsSByte().CopyTo(values.Slice(b0 * Block, Block));
                        hi.AsSByte().CopyTo(values.Slice((b0 + 1) * Block, Block));
                        Dequantize.ScaleMinK4(2 * c, packed, out var sc0, out var mn0);
                        Dequantize.ScaleMinK4(2 * c + 1, packed, out var sc1, out var mn1);
                        SetScales(scales, b0, d * sc0);
                        SetScales(scales, b0 + 1, d * sc1);
                        offsets[b0] = dmin * mn0;
                        offsets[b0 + 1] = dmin * mn1;
                    }
                }
                break;
            case GgmlType.Q6_K:
                var m4b = Vector256.Create((byte)0x0F);
                var m2 = Vector256.Create((byte)0x30);
                var thirtyTwo = Vector256.Create((sbyte)32);
                for (var sb = 0; sb < nb / 8; sb++)
                {
                    var blk = row.Slice(sb * Q6KBlock.Bytes, Q6KBlock.Bytes);
                    var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q6KBlock.D..]));
                    for (var half = 0; half < 2; half++)
                    {
                        var qa = Vector256.Create(blk.Slice(Q6KBlock.Ql + 64 * half, 32));
                        var qb = Vector256.Create(blk.Slice(Q6KBlock.Ql + 64 * half + 32, 32));
                        var qhv = Vector256.Create(blk.Slice(Q6KBlock.Qh + 32 * half, 32));
                        var h16 = qhv.AsUInt16();
                        var v0 = (qa & m4b) | (Vector256.ShiftLeft(h16, 4).AsByte() & m2);
                        var v1 = (qb & m4b) | (Vector256.ShiftLeft(h16, 2).AsByte() & m2);
                        var v2 = (Vector256.ShiftRightLogical(qa.AsUInt16(), 4).AsByte() & m4b) | (qhv & m2);
                        var v3 = (Vector256.ShiftRightLogical(qb.AsUInt16(), 4).AsByte() & m4b) | (Vector256.ShiftRightLogical(h16, 2).AsByte() & m2);
                        var b0 = sb * 8 + 4 * half;
                        (v0.AsSByte() - thirtyTwo).CopyTo(values.Slice(b0 * Block, Block));
                        (v1.AsSByte() - thirtyTwo).CopyTo(values.Slice((b0 + 1) * Block, Block));
                        (v2.AsSByte() - thirtyTwo).CopyTo(values.Slice((b0 + 2) * Block, Block));
                        (v3.AsSByte() - thirtyTwo).CopyTo(values.Slice((b0 + 3) * Block, Block));
                        for (var k = 0; k < 4; k++)
                        {
                            var s = Q6KBlock.Scales + 8 * half + 2 * k;
                            SetScales(scales, b0 + k, d * (sbyte)blk[s], d * (sbyte)blk[s + 1]);
                        }
                    }
                }
                break;
            default:
                throw new NotSupportedException($"No tiled kernel for {type}.");
        }
    }

    private static void SetScales(Span<float> scales, int block, float scale) => SetScales(scales, block, scale, scale);

    private static void SetScales(Span<float> scales, int block, float first, float second)
    {
        Vector256.Create(Vector128.Create(first), Vector128.Create(second)).CopyTo(scales.Slice(block * 8, 8));
    }

    /// <summary>Reference: each weight row dequantized to floats, each activation row decoded from its Q8 blocks, a double-precision dot per pair.</summary>
    internal static void DotRowsReference(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int tokens, int n, Span<float> y)
    {
        var rowBytes = TensorOps.RowSize(type, n);
        var xBytes = TensorOps.ActivationSize(type, n);
        var w = new float[n];
        var x = new float[n];
        for (var j = 0; j < tokens; j++)
        {
            DecodeActivations(TensorOps.ActivationType(type), xq.Slice(j * xBytes, xBytes), x);
            for (var i = 0; i < rowCount; i++)
            {
                TensorOps.DequantizeRow(type, rows.Slice(i * rowBytes, rowBytes), w);
                var sum = 0.0;
                for (var k = 0; k < n; k++)
                    sum += (double)w[k] * x[k];
                y[j * rowCount + i] = (float)sum;
            }
        }
    }

    private static void DecodeActivations(GgmlType type, ReadOnlySpan<byte> xq, Span<float> x)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(xq).CopyTo(x); break;
            case GgmlType.Q8_0: TensorOps.DequantizeRow(GgmlType.Q8_0, xq, x); break;
            default:
                for (var b = 0; b < x.Length / Q8KBlock.Size; b++)
                {
                    var d = MemoryMarshal.Read<float>(xq[(b * Q8KBlock.Bytes + Q8KBlock.D)..]);
                    for (var k = 0; k < Q8KBlock.Size; k++)
                        x[b * Q8KBlock.Size + k] = d * (sbyte)xq[b * Q8KBlock.Bytes + Q8KBlock.Qs + k];
                }
                break;
        }
    }
}
