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
/// Quantized tiles are first decoded once per call (the 32-weight block types into <see cref="PanelKernels"/>' panel; the K-quants into
/// unsigned bytes with int16 sub-block scales), then an AVX2 micro-kernel dots two weight rows with four activation rows at a time: each
/// weight vector is loaded once for four tokens and each activation vector once for two rows. The decode is repaid across the batch.
/// <see cref="DotRowsReference"/> (dequantize, then a double-precision dot) is the scalar reference the tests compare every path against.</summary>
internal static unsafe class MatMulKernels
{
    private const int Block = 32;
    private const int RowTile = 2;
    private const int TokenTile = 4;

    // Per-thread scratch for the decoded tile and the activations' scales; grown on first use, then reused (no allocation per call).
    [ThreadStatic] private static sbyte[]? t_values;

    private static T[] Scratch<T>(ref T[]? buffer, int length) => buffer is { } b && b.Length >= length ? b : buffer = new T[Math.Max(length, 1024)];

    /// <summary>As <see cref="DotRows(GgmlType, ReadOnlySpan{byte}, int, int, ReadOnlySpan{byte}, int, int, int, Span{float})"/>, with the
    /// activations' side information prepared once per batch for the 32-weight block types (<see cref="PanelKernels.PrepareToken"/>):
    /// <paramref name="scales"/> and <paramref name="blockSums"/> start at the first of these tokens.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y,
        ReadOnlySpan<float> scales, ReadOnlySpan<float> blockSums)
    {
        if (PanelKernels.Supports(type))
            PanelKernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y, scales, blockSums);
        else
            DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
    }

    /// <summary>y[j * rowCount + i] = row_i · x_j; arguments already checked.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.F32 or GgmlType.F16 or GgmlType.BF16:
                F16Kernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
                break;
            default:
                if (PanelKernels.Supports(type))
                    PanelKernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
                else if (Avx2.IsSupported && Fma.IsSupported && type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K)
                    DotRowsKQuantAvx2(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
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

    [ThreadStatic] private static short[]? t_intScales;
    [ThreadStatic] private static float[]? t_superScales;

    // K-quants against Q8_K activations: the weights' 4- to 6-bit values are non-negative once the Q6_K offset of 32 moves into a
    // per-16 correction, so u8 x s8 multiply-adds need no sign trick; the sub-block scales are integers, applied by the pairwise
    // 16-bit multiply-add, so each pair accumulates in int32 over a 256-weight super-block and converts to float once per super-block.
    private static void DotRowsKQuantAvx2(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        var nb = n / Block;
        var nsb = n / Q8KBlock.Size;
        var values = Scratch(ref t_values, rowCount * n);
        var scales = Scratch(ref t_intScales, rowCount * nb * 16);
        var mins = Scratch(ref t_intMins, rowCount * nsb * 16);
        var rowScales = Scratch(ref t_superScales, rowCount * nsb * 2);
        for (var r = 0; r < rowCount; r++)
            DecodeRowK(type, rows.Slice(r * rowBytes, rowBytes), nsb, values.AsSpan(r * n, n), scales.AsSpan(r * nb * 16, nb * 16),
                mins.AsSpan(r * nsb * 16, nsb * 16), rowScales.AsSpan(r * nsb * 2, nsb * 2));
        fixed (sbyte* pv = values)
        fixed (short* ps = scales, pm = mins)
        fixed (float* pd = rowScales)
        fixed (byte* px = xq)
        {
            float* sums = stackalloc float[RowTile * TokenTile];
            for (var r = 0; r < rowCount; r += RowTile)
            {
                var r1 = Math.Min(r + 1, rowCount - 1);
                for (var j = 0; j < tokens; j += TokenTile)
                {
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    KernelK2x4((byte*)(pv + r * n), (byte*)(pv + r1 * n), ps + r * nb * 16, ps + r1 * nb * 16, pm + r * nsb * 16, pm + r1 * nsb * 16,
                        pd + r * nsb * 2, pd + r1 * nsb * 2, px + j * xBytes, px + j1 * xBytes, px + j2 * xBytes, px + j3 * xBytes, nsb, sums);
                    for (var a = 0; a < RowTile && r + a < rowCount; a++)
                        for (var b = 0; b < TokenTile && j + b < tokens; b++)
                            y[(j + b) * rowCount + r + a] = sums[a * TokenTile + b];
                }
            }
        }
    }

    [ThreadStatic] private static short[]? t_intMins;

    // The eight int32 accumulators of a super-block stay in registers with the two rows' bytes and scales (14 of the 16 ymm registers);
    // the float sums wait in memory. Once per super-block and pair: one FMA adds the int32 sums times d x d_x, and the offsets
    // (mins, or Q6_K's 32 x scale) meet the activations' group sums (bsums) in one vpmaddwd, subtracted times d_min x d_x.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelK2x4(byte* w0, byte* w1, short* s0, short* s1, short* m0, short* m1, float* e0, float* e1,
        byte* x0, byte* x1, byte* x2, byte* x3, int nsb, float* sums)
    {
        float* f = stackalloc float[8 * RowTile * TokenTile];
        for (var i = 0; i < 8 * RowTile * TokenTile; i += 8)
            Avx.Store(f + i, Vector256<float>.Zero);
        for (var sb = 0; sb < nsb; sb++)
        {
            Vector256<int> i00 = default, i01 = default, i02 = default, i03 = default;
            Vector256<int> i10 = default, i11 = default, i12 = default, i13 = default;
            var xo = sb * Q8KBlock.Bytes + Q8KBlock.Qs;
            var wo = sb * 8 * Block;
            var so = sb * 8 * 16;
            for (var k = 0; k < 8; k++, xo += Block, wo += Block, so += 16)
            {
                var wv0 = Avx.LoadVector256(w0 + wo);
                var wv1 = Avx.LoadVector256(w1 + wo);
                var sc0 = Avx.LoadVector256(s0 + so);
                var sc1 = Avx.LoadVector256(s1 + so);
                var xv = Avx.LoadVector256((sbyte*)(x0 + xo));
                i00 = Avx2.Add(i00, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i10 = Avx2.Add(i10, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
                xv = Avx.LoadVector256((sbyte*)(x1 + xo));
                i01 = Avx2.Add(i01, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i11 = Avx2.Add(i11, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
                xv = Avx.LoadVector256((sbyte*)(x2 + xo));
                i02 = Avx2.Add(i02, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i12 = Avx2.Add(i12, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
                xv = Avx.LoadVector256((sbyte*)(x3 + xo));
                i03 = Avx2.Add(i03, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv0, xv), sc0));
                i13 = Avx2.Add(i13, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv1, xv), sc1));
            }
            var bo = sb * Q8KBlock.Bytes;
            Flush(f, i00, e0 + 2 * sb, m0 + 16 * sb, x0 + bo);
            Flush(f + 8, i01, e0 + 2 * sb, m0 + 16 * sb, x1 + bo);
            Flush(f + 16, i02, e0 + 2 * sb, m0 + 16 * sb, x2 + bo);
            Flush(f + 24, i03, e0 + 2 * sb, m0 + 16 * sb, x3 + bo);
            Flush(f + 32, i10, e1 + 2 * sb, m1 + 16 * sb, x0 + bo);
            Flush(f + 40, i11, e1 + 2 * sb, m1 + 16 * sb, x1 + bo);
            Flush(f + 48, i12, e1 + 2 * sb, m1 + 16 * sb, x2 + bo);
            Flush(f + 56, i13, e1 + 2 * sb, m1 + 16 * sb, x3 + bo);
        }
        PanelKernels.Store(sums, Avx.LoadVector256(f), Avx.LoadVector256(f + 8), Avx.LoadVector256(f + 16), Avx.LoadVector256(f + 24),
            Avx.LoadVector256(f + 32), Avx.LoadVector256(f + 40), Avx.LoadVector256(f + 48), Avx.LoadVector256(f + 56));
    }

    // acc += d x d_x x sums - d_min x d_x x (offsets . bsums), for one pair and one super-block (e: d, d_min of the row's super-block;
    // x: the token's Q8_K super-block).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(float* acc, Vector256<int> sums, float* e, short* offsets, byte* x)
    {
        var dx = *(float*)(x + Q8KBlock.D);
        var bias = Avx2.MultiplyAddAdjacent(Avx.LoadVector256((short*)(x + Q8KBlock.BSums)), Avx.LoadVector256(offsets));
        var v = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Vector256.Create(e[0] * dx), Avx.LoadVector256(acc));
        Avx.Store(acc, Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(bias), Vector256.Create(e[1] * dx), v));
    }

    /// <summary>One K-quant row for <see cref="KernelK2x4"/>: unsigned values per element, per block of 32 sixteen int16 scales (the first
    /// 16 elements' scale eight times, then the last 16's), per super-block d and d_min (<paramref name="dw"/>[2 sb], [2 sb + 1]; Q6_K: d twice),
    /// and per group of 16 the integer offset o (the sub-block's min, or 32 x scale for Q6_K). Element = d * scale * value - d_min * o.</summary>
    private static void DecodeRowK(GgmlType type, ReadOnlySpan<byte> row, int nsb, Span<sbyte> values, Span<short> scales, Span<short> offsets, Span<float> dw)
    {
        if (type == GgmlType.Q6_K)
        {
            var m4b = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x30);
            for (var sb = 0; sb < nsb; sb++)
            {
                var blk = row.Slice(sb * Q6KBlock.Bytes, Q6KBlock.Bytes);
                var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q6KBlock.D..]));
                dw[2 * sb] = dw[2 * sb + 1] = d;
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
                    offsets[sb * 16 + g] = (short)(32 * sc);
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
            dw[2 * sb] = d;
            dw[2 * sb + 1] = dmin;
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
                    offsets[sb * 16 + (2 * c + h) * 2] = offsets[sb * 16 + (2 * c + h) * 2 + 1] = (short)mn;
                }
            }
        }
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
