using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Prompt-processing tiles for the 32-weight block types (Q8_0, Q4_0, Q5_0, Q5_1) against Q8_0 activations.
/// The weight rows are decoded once per call into a panel of row pairs interleaved block by block, so the micro-kernel streams one
/// pointer: Q4_0, Q5_0 and Q5_1 as unsigned bytes (their offsets, 8, 16 or -m, become one correction per row and token: offset x the
/// activations' block sums), Q8_0 as |w| and w (the sign moves onto the activations: AVX2 multiplies unsigned by signed bytes only, and
/// w + 128 would saturate the pairwise 16-bit sums). Each block of each (row, token) pair costs one u8 x s8 multiply-add, one pairwise
/// add to int32, one conversion and one FMA by the product of the two block scales, read from a table built per 2 x 4 tile.</summary>
internal static unsafe class PanelKernels
{
    private const int Block = 32;
    private const int RowTile = 2;
    private const int TokenTile = 4;

    [ThreadStatic] private static byte[]? t_panel;
    [ThreadStatic] private static float[]? t_rowScales, t_offsets, t_info, t_corrections, t_tile, t_sums;

    private static T[] Scratch<T>(ref T[]? buffer, int length) => buffer is { } b && b.Length >= length ? b : buffer = new T[Math.Max(length, 1024)];

    /// <summary>True for the types this kernel takes on this CPU.</summary>
    public static bool Supports(GgmlType type) => Avx2.IsSupported && Fma.IsSupported && type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1;

    /// <summary>Floats of the activation side information <see cref="PrepareToken"/> writes for <paramref name="tokens"/> rows of
    /// <paramref name="n"/> elements: block scales by quads of tokens, then block sums by octets of tokens (padding tokens are zeros).</summary>
    public static int InfoLength(int tokens, int n) => 2 * PaddedTokens(tokens) * (n / Block);

    public static int PaddedTokens(int tokens) => (tokens + 7) & ~7;

    /// <summary>Side information of token <paramref name="j"/> (Q8_0 activations <paramref name="x"/> of <paramref name="n"/> elements) into
    /// <paramref name="info"/> laid out for <paramref name="tokens"/> tokens: its block scales at <c>((j / 4) nb + b) 4 + j % 4</c>, and
    /// its block sums (scale x sum of the block's bytes) at <c>T8 nb + ((j / 8) nb + b) 8 + j % 8</c>. Done once per batch, in parallel.</summary>
    public static void PrepareToken(ReadOnlySpan<byte> x, int n, int j, int tokens, Span<float> info)
    {
        var nb = n / Block;
        var sums = info[(PaddedTokens(tokens) * nb)..];
        var ones = Vector256.Create((byte)1);
        var onesWord = Vector256.Create((short)1);
        for (var b = 0; b < nb; b++)
        {
            var blk = x.Slice(b * Q8_0Block.Bytes, Q8_0Block.Bytes);
            var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk));
            info[(j / 4 * nb + b) * 4 + j % 4] = d;
            var v = Vector256.Create(blk.Slice(Q8_0Block.Qs, Block)).AsSByte();
            int sum;
            if (Avx2.IsSupported)
                sum = Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, v), onesWord)); // pairwise sums to int16, then int32
            else
            {
                var (lo, hi) = Vector256.Widen(v);
                sum = Vector256.Sum(lo + hi); // at most 32 x 127 in magnitude: fits int16
            }
            sums[(j / 8 * nb + b) * 8 + j % 8] = d * sum;
        }
    }

    /// <summary>Zeros the side information of the padding tokens [tokens, T8), which no <see cref="PrepareToken"/> call writes.</summary>
    public static void ClearPadding(int n, int tokens, Span<float> info)
    {
        var nb = n / Block;
        var padded = PaddedTokens(tokens);
        for (var j = tokens; j < padded; j++)
            for (var b = 0; b < nb; b++)
            {
                info[(j / 4 * nb + b) * 4 + j % 4] = 0;
                info[padded * nb + (j / 8 * nb + b) * 8 + j % 8] = 0;
            }
    }

    /// <summary>y[j * rowCount + i] = row_i · x_j; arguments already checked, <see cref="Supports"/> true. <paramref name="scales"/> and
    /// <paramref name="blockSums"/> are the two halves of the tokens' side information (<see cref="PrepareToken"/>), starting at the first
    /// of these tokens (a multiple of 8 into the batch), or empty to compute them here.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y,
        ReadOnlySpan<float> scales = default, ReadOnlySpan<float> blockSums = default)
    {
        if (rowCount == 0 || tokens == 0)
            return;
        var nb = n / Block;
        var signed = type == GgmlType.Q8_0;
        var stride = signed ? 4 * Block : 2 * Block;
        var pairs = (rowCount + 1) / RowTile;
        var quads = (tokens + TokenTile - 1) / TokenTile;
        var paddedTokens = PaddedTokens(tokens);
        if (scales.IsEmpty)
        {
            var info = Scratch(ref t_info, InfoLength(tokens, n));
            for (var j = 0; j < tokens; j++)
                PrepareToken(xq.Slice(j * xBytes, xBytes), n, j, tokens, info);
            ClearPadding(n, tokens, info);
            scales = info.AsSpan(0, paddedTokens * nb);
            blockSums = info.AsSpan(paddedTokens * nb, paddedTokens * nb);
        }
        var panel = Scratch(ref t_panel, pairs * nb * stride);
        var rowScales = Scratch(ref t_rowScales, pairs * nb * 8);
        var offsets = Scratch(ref t_offsets, pairs * RowTile * nb);
        var tile = Scratch(ref t_tile, nb * 8);
        var sums = Scratch(ref t_sums, RowTile * TokenTile);

        for (var p = 0; p < pairs; p++)
            for (var a = 0; a < RowTile; a++)
            {
                // An odd last row is decoded twice; the second copy's results are dropped.
                var r = Math.Min(p * RowTile + a, rowCount - 1);
                DecodeRow(type, rows.Slice(r * rowBytes, rowBytes), nb, panel.AsSpan(p * nb * stride), stride, a,
                    rowScales.AsSpan(p * nb * 8, nb * 8), offsets.AsSpan((p * RowTile + a) * nb, nb));
            }
        float[]? corrections = null;
        if (!signed)
        {
            corrections = Scratch(ref t_corrections, pairs * RowTile * paddedTokens);
            Corrections(offsets, blockSums, pairs * RowTile, nb, paddedTokens, corrections);
        }

        fixed (byte* pw = panel, px = xq)
        fixed (float* pr = rowScales, pt = scales, ps = tile, psum = sums)
        {
            for (var p = 0; p < pairs; p++)
            {
                var w = pw + p * nb * stride;
                var rs = pr + p * nb * 8;
                for (var q = 0; q < quads; q++)
                {
                    var j = q * TokenTile;
                    // Ragged edges reuse the last token and drop its results: the kernel always runs a full 2 x 4 tile.
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    var ts = pt + q * nb * 4;
                    for (var b = 0; b < nb; b++)
                    {
                        var dx = Sse.LoadVector128(ts + b * 4);
                        Avx.Store(ps + b * 8, Avx.Multiply(Avx.LoadVector256(rs + b * 8), Vector256.Create(dx, dx)));
                    }
                    if (signed)
                        KernelSigned(w, ps, px + j * xBytes, px + j1 * xBytes, px + j2 * xBytes, px + j3 * xBytes, nb, psum);
                    else
                        KernelUnsigned(w, ps, px + j * xBytes, px + j1 * xBytes, px + j2 * xBytes, px + j3 * xBytes, nb, psum);
                    for (var a = 0; a < RowTile; a++)
                    {
                        var r = p * RowTile + a;
                        if (r >= rowCount)
                            break;
                        for (var c = 0; c < TokenTile && j + c < tokens; c++)
                        {
                            var v = psum[a * TokenTile + c];
                            if (corrections is not null)
                                v -= corrections[r * paddedTokens + j + c];
                            y[(j + c) * rowCount + r] = v;
                        }
                    }
                }
            }
        }
    }

    // Two rows by four tokens, unsigned weights: per block, the 32 bytes of each row meet each token's 32 activation bytes in one
    // vpmaddubsw; vpmaddwd by ones sums pairs to int32, then one FMA adds them times the block's scale product (s[8b + 4a + c]).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelUnsigned(byte* w, float* s, byte* x0, byte* x1, byte* x2, byte* x3, int nb, float* sums)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        var ones = Vector256.Create((short)1);
        var o = Q8_0Block.Qs;
        for (var b = 0; b < nb; b++, o += Q8_0Block.Bytes, w += 2 * Block, s += 8)
        {
            var u0 = Avx.LoadVector256(w);
            var u1 = Avx.LoadVector256(w + Block);
            var x = Avx.LoadVector256((sbyte*)(x0 + o));
            a00 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, x), ones)), Vector256.Create(s[0]), a00);
            a10 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, x), ones)), Vector256.Create(s[4]), a10);
            x = Avx.LoadVector256((sbyte*)(x1 + o));
            a01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, x), ones)), Vector256.Create(s[1]), a01);
            a11 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, x), ones)), Vector256.Create(s[5]), a11);
            x = Avx.LoadVector256((sbyte*)(x2 + o));
            a02 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, x), ones)), Vector256.Create(s[2]), a02);
            a12 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, x), ones)), Vector256.Create(s[6]), a12);
            x = Avx.LoadVector256((sbyte*)(x3 + o));
            a03 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, x), ones)), Vector256.Create(s[3]), a03);
            a13 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, x), ones)), Vector256.Create(s[7]), a13);
        }
        Store(sums, a00, a01, a02, a03, a10, a11, a12, a13);
    }

    // As KernelUnsigned for Q8_0: the panel holds |w| of both rows, then w of both; vpsignb gives each token's bytes the weight's sign.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelSigned(byte* w, float* s, byte* x0, byte* x1, byte* x2, byte* x3, int nb, float* sums)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        var ones = Vector256.Create((short)1);
        var o = Q8_0Block.Qs;
        for (var b = 0; b < nb; b++, o += Q8_0Block.Bytes, w += 4 * Block, s += 8)
        {
            var u0 = Avx.LoadVector256(w);
            var u1 = Avx.LoadVector256(w + Block);
            var w0 = Avx.LoadVector256((sbyte*)(w + 2 * Block));
            var w1 = Avx.LoadVector256((sbyte*)(w + 3 * Block));
            var x = Avx.LoadVector256((sbyte*)(x0 + o));
            a00 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(x, w0)), ones)), Vector256.Create(s[0]), a00);
            a10 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(x, w1)), ones)), Vector256.Create(s[4]), a10);
            x = Avx.LoadVector256((sbyte*)(x1 + o));
            a01 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(x, w0)), ones)), Vector256.Create(s[1]), a01);
            a11 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(x, w1)), ones)), Vector256.Create(s[5]), a11);
            x = Avx.LoadVector256((sbyte*)(x2 + o));
            a02 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(x, w0)), ones)), Vector256.Create(s[2]), a02);
            a12 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(x, w1)), ones)), Vector256.Create(s[6]), a12);
            x = Avx.LoadVector256((sbyte*)(x3 + o));
            a03 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u0, Avx2.Sign(x, w0)), ones)), Vector256.Create(s[3]), a03);
            a13 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u1, Avx2.Sign(x, w1)), ones)), Vector256.Create(s[7]), a13);
        }
        Store(sums, a00, a01, a02, a03, a10, a11, a12, a13);
    }

    /// <summary>sums[4a + c] = the lane sum of a_ac: a tree of horizontal adds reduces all eight accumulators at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store(float* sums, Vector256<float> a00, Vector256<float> a01, Vector256<float> a02, Vector256<float> a03,
        Vector256<float> a10, Vector256<float> a11, Vector256<float> a12, Vector256<float> a13)
    {
        // Each 128-bit half of g0 ends as the four partial sums of a00..a03 over that half's lanes (g1: a10..a13).
        var g0 = Avx.HorizontalAdd(Avx.HorizontalAdd(a00, a01), Avx.HorizontalAdd(a02, a03));
        var g1 = Avx.HorizontalAdd(Avx.HorizontalAdd(a10, a11), Avx.HorizontalAdd(a12, a13));
        Avx.Store(sums, Avx.Add(Avx.Permute2x128(g0, g1, 0x20), Avx.Permute2x128(g0, g1, 0x31)));
    }

    /// <summary>corrections[r * paddedTokens + j] = sum over blocks of offsets[r, b] x sums[j, b] (sums by octets of tokens: eight per vector).</summary>
    private static void Corrections(ReadOnlySpan<float> offsets, ReadOnlySpan<float> sums, int rows, int nb, int paddedTokens, Span<float> corrections)
    {
        fixed (float* po = offsets, ps = sums, pc = corrections)
            for (var r = 0; r < rows; r++)
                for (var j = 0; j < paddedTokens; j += 8)
                {
                    var acc = Vector256<float>.Zero;
                    var s = ps + j * nb;
                    for (var b = 0; b < nb; b++)
                        acc = Fma.MultiplyAdd(Vector256.Create(po[r * nb + b]), Avx.LoadVector256(s + b * 8), acc);
                    Avx.Store(pc + r * paddedTokens + j, acc);
                }
    }

    /// <summary>One weight row into slot <paramref name="slot"/> (0 or 1) of its pair's panel: per block, the bytes at
    /// <c>b * stride + 32 * slot</c> (unsigned values, or |w| for Q8_0, with w at <c>64 + 32 * slot</c>), the block scale into lanes
    /// 4 slot .. 4 slot + 3 of <paramref name="scales"/>[8b..], and the offset subtracted from each element. Element = scale x value - offset.</summary>
    private static void DecodeRow(GgmlType type, ReadOnlySpan<byte> row, int nb, Span<byte> panel, int stride, int slot, Span<float> scales, Span<float> offsets)
    {
        switch (type)
        {
            case GgmlType.Q8_0:
                for (var b = 0; b < nb; b++)
                {
                    var blk = row.Slice(b * Q8_0Block.Bytes, Q8_0Block.Bytes);
                    var v = Vector256.Create(blk.Slice(Q8_0Block.Qs, Block)).AsSByte();
                    Vector256.Abs(v).AsByte().CopyTo(panel.Slice(b * stride + Block * slot, Block));
                    v.AsByte().CopyTo(panel.Slice(b * stride + 2 * Block + Block * slot, Block));
                    SetScale(scales, b, slot, HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk)));
                    offsets[b] = 0;
                }
                break;
            case GgmlType.Q4_0:
                var mask = Vector128.Create((byte)0x0F);
                for (var b = 0; b < nb; b++)
                {
                    var blk = row.Slice(b * Q4_0Block.Bytes, Q4_0Block.Bytes);
                    var raw = Vector128.Create(blk.Slice(Q4_0Block.Qs, 16));
                    Vector256.Create(raw & mask, Vector128.ShiftRightLogical(raw.AsUInt16(), 4).AsByte() & mask).CopyTo(panel.Slice(b * stride + Block * slot, Block));
                    var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk));
                    SetScale(scales, b, slot, d);
                    offsets[b] = 8 * d;
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
                    (q | high).CopyTo(panel.Slice(b * stride + Block * slot, Block));
                    var d = HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk));
                    SetScale(scales, b, slot, d);
                    offsets[b] = q51 ? -HalfBits.ToSingle(MemoryMarshal.Read<ushort>(blk[Q5_1Block.M..])) : 16 * d;
                }
                break;
            default:
                throw new NotSupportedException($"No panel kernel for {type}.");
        }
    }

    private static void SetScale(Span<float> scales, int block, int slot, float scale) =>
        Vector128.Create(scale).CopyTo(scales.Slice(block * 8 + TokenTile * slot, TokenTile));
}
