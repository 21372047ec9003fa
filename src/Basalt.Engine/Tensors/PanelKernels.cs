using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Prompt-processing tiles for the 32-weight block types (Q8_0, Q4_0, Q5_0, Q5_1) against Q8_0 activations, with weight rows
/// as vector lanes (as llama.cpp's repacked 8-row gemm kernels): each tile of 8 rows is decoded once per call into a panel where one
/// 256-bit vector holds 4 consecutive elements of each of the 8 rows, and a token's matching 4 activation bytes are broadcast to every
/// lane, so vpmaddubsw / vpmaddwd leave the 8 rows' dots as int32 lanes: no horizontal sums, one conversion and FMA per block for 8 rows.
/// Q4_0, Q5_0 and Q5_1 are decoded as unsigned bytes (their offsets, 8, 16 or -m, are subtracted per block as offset x the activations'
/// block sums); Q8_0 as w, whose |w| the kernel takes (AVX2 multiplies unsigned by signed bytes only: the sign moves onto the broadcast activations).
/// The micro-kernel is 8 rows x 4 tokens: four float accumulators of 8 rows each.</summary>
internal static unsafe class PanelKernels
{
    private const int Block = 32;
    private const int RowTile = 8;
    private const int TokenTile = 4;
    // Panel bytes per block of an 8-row tile: one byte per weight.
    private const int OctetBlockBytes = RowTile * Block;

    [ThreadStatic] private static byte[]? t_panel;
    [ThreadStatic] private static float[]? t_rowScales, t_offsets, t_info;

    /// <summary>A per-thread scratch array of at least <paramref name="length"/> elements, grown on first use (no allocation per call).</summary>
    internal static T[] Scratch<T>(ref T[]? buffer, int length, int minimum = 1024) =>
        buffer is { } b && b.Length >= length ? b : buffer = new T[Math.Max(length, minimum)];

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
            // Pairwise sums to int16, then int32 (callers hold Supports, so AVX2 is there).
            var sum = Vector256.Sum(Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ones, v), onesWord));
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
        var stride = OctetBlockBytes;
        var octets = (rowCount + RowTile - 1) / RowTile;
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
        var panel = Scratch(ref t_panel, octets * nb * stride);
        var rowScales = Scratch(ref t_rowScales, octets * nb * RowTile);
        var offsets = Scratch(ref t_offsets, octets * nb * RowTile);
        for (var o = 0; o < octets; o++)
            DecodeOctet(type, rows, rowBytes, rowCount, o * RowTile, nb, panel.AsSpan(o * nb * stride, nb * stride),
                rowScales.AsSpan(o * nb * RowTile, nb * RowTile), offsets.AsSpan(o * nb * RowTile, nb * RowTile));

        var results = stackalloc float[RowTile * TokenTile];
        fixed (byte* pw = panel, px = xq, pn = rows)
        fixed (float* pr = rowScales, po = offsets, pt = scales, pb = blockSums)
        {
            // The weights of a prompt pass come from memory, and the short rows of a tile (8 x 400 bytes for 576-wide Q5_0) are too short
            // a stream for the hardware prefetcher: the decode stalled on them (a quarter of the kernel time). While this tile's kernels
            // run, the next tile's bytes (the caller's next call: the rows after these) are prefetched into L2, a few lines per kernel call.
            // Prefetches never fault, so the lines past the end of the matrix cost nothing.
            var next = pn + (long)rowCount * rowBytes;
            var lines = (rowCount * rowBytes + 63) / 64;
            var perCall = (lines + octets * ((tokens + TokenTile - 1) / TokenTile) - 1) / (octets * ((tokens + TokenTile - 1) / TokenTile));
            var line = 0;
            for (var o = 0; o < octets; o++)
            {
                var w = pw + o * nb * stride;
                var rs = pr + o * nb * RowTile;
                var os = po + o * nb * RowTile;
                var r0 = o * RowTile;
                var live = Math.Min(RowTile, rowCount - r0);
                for (var j = 0; j < tokens; j += TokenTile)
                {
                    // Ragged edges reuse the last token and drop its results: the kernel always runs a full 8 x 4 tile.
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    byte* x0 = px + j * xBytes, x1 = px + j1 * xBytes, x2 = px + j2 * xBytes, x3 = px + j3 * xBytes;
                    var ts = pt + j * nb; // the quad's block scales: (j / 4) nb 4 + 4 b + c
                    var bs = pb + j / 8 * nb * 8 + j % 8; // the quad's block sums: (j / 8) nb 8 + 8 b + j % 8 + c
                    switch (type)
                    {
                        case GgmlType.Q8_0:
                            KernelQ8(w, OctetBlockBytes, rs, ts, x0, x1, x2, x3, nb, results);
                            break;
                        case GgmlType.Q4_0:
                            Kernel4Bit(w, rs, os, ts, bs, x0, x1, x2, x3, nb, results);
                            break;
                        default:
                            Kernel5Bit(w, rs, os, ts, bs, x0, x1, x2, x3, nb, results);
                            break;
                    }
                    for (var end = Math.Min(line + perCall, lines); line < end; line++)
                        Sse.Prefetch1(next + 64L * line);
                    var count = Math.Min(TokenTile, tokens - j);
                    for (var c = 0; c < count; c++)
                        if (live == RowTile)
                            Avx.LoadVector256(results + c * RowTile).StoreUnsafe(ref y[(j + c) * rowCount + r0]);
                        else
                            new ReadOnlySpan<float>(results + c * RowTile, live).CopyTo(y.Slice((j + c) * rowCount + r0, live));
                }
            }
        }
    }

    /// <summary>As <see cref="DotRows"/> for Q8_0 weights repacked into octets (<see cref="Q8Octets"/>): the octets are the panel
    /// (<paramref name="rowCount"/> a multiple of 8), so nothing is decoded but the rows' half scales. <paramref name="scales"/>: the
    /// tokens' block scales as <see cref="DotRows"/> takes them, or empty.</summary>
    public static void DotOctets(ReadOnlySpan<byte> octets, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y,
        ReadOnlySpan<float> scales = default)
    {
        if (rowCount % RowTile != 0 || !Supports(GgmlType.Q8_0))
            throw new ArgumentException($"Octet panels take whole octets of 8 rows on an AVX2 machine; got {rowCount} rows.", nameof(rowCount));
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        if (octets.Length < (long)rowCount * rowBytes || xq.Length < (long)tokens * xBytes || y.Length < (long)tokens * rowCount)
            throw new ArgumentException($"{rowCount} rows of {n} weights against {tokens} tokens need more bytes than given.", nameof(octets));
        if (rowCount == 0 || tokens == 0)
            return;
        var nb = n / Block;
        var octetCount = rowCount / RowTile;
        if (scales.IsEmpty)
        {
            var info = Scratch(ref t_info, InfoLength(tokens, n));
            for (var j = 0; j < tokens; j++)
                PrepareToken(xq.Slice(j * xBytes, xBytes), n, j, tokens, info);
            ClearPadding(n, tokens, info);
            scales = info.AsSpan(0, PaddedTokens(tokens) * nb);
        }
        var rowScales = Scratch(ref t_rowScales, octetCount * nb * RowTile);
        var results = stackalloc float[RowTile * TokenTile];
        fixed (byte* pn = octets, px = xq)
        fixed (float* pr = rowScales, pt = scales)
        {
            for (var o = 0; o < octetCount; o++)
                for (var b = 0; b < nb; b++)
                    Q8Octets.Scales(pn + (long)o * RowTile * rowBytes + b * Q8Octets.BlockBytes).Store(pr + (o * nb + b) * RowTile);
            // As DotRows: the next tile's bytes into L2 a few lines per kernel call.
            var next = pn + (long)rowCount * rowBytes;
            var calls = octetCount * ((tokens + TokenTile - 1) / TokenTile);
            var lines = (rowCount * rowBytes + 63) / 64;
            var perCall = (lines + calls - 1) / calls;
            var line = 0;
            for (var o = 0; o < octetCount; o++)
            {
                var w = pn + (long)o * RowTile * rowBytes + Q8Octets.Quants;
                var rs = pr + o * nb * RowTile;
                var r0 = o * RowTile;
                for (var j = 0; j < tokens; j += TokenTile)
                {
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    KernelQ8(w, Q8Octets.BlockBytes, rs, pt + j * nb, px + j * xBytes, px + j1 * xBytes, px + j2 * xBytes, px + j3 * xBytes, nb, results);
                    for (var end = Math.Min(line + perCall, lines); line < end; line++)
                        Sse.Prefetch1(next + 64L * line);
                    var count = Math.Min(TokenTile, tokens - j);
                    for (var c = 0; c < count; c++)
                        Avx.LoadVector256(results + c * RowTile).StoreUnsafe(ref y[(j + c) * rowCount + r0]);
                }
            }
        }
    }

    // The 4-byte group of activations at x (four consecutive elements of one block) in every 32-bit lane: one per weight row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> Broadcast(byte* x) => Avx2.BroadcastScalarToVector256((int*)x).AsSByte();

    // Eight rows by four tokens, 4-bit unsigned weights: panel vector g of a block holds elements 4g..4g+3 of each of the eight rows, which
    // meet the token's elements 4g..4g+3 broadcast to every lane in one vpmaddubsw. The int16 pair sums of all eight groups are added
    // before one vpmaddwd (each at most 2 x 15 x 128, eight of them 30720 < 32767), which leaves the block's eight row dots as int32 in
    // lanes; one FMA adds them times the row scales times the token's scale, one more subtracts the offsets times the token's block sum.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Kernel4Bit(byte* w, float* rs, float* os, float* ts, float* bs, byte* x0, byte* x1, byte* x2, byte* x3, int nb, float* results)
    {
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        var ones = Vector256<short>.One;
        for (var b = 0; b < nb; b++, w += OctetBlockBytes, rs += RowTile, os += RowTile, ts += TokenTile, bs += 8,
            x0 += Q8_0Block.Bytes, x1 += Q8_0Block.Bytes, x2 += Q8_0Block.Bytes, x3 += Q8_0Block.Bytes)
        {
            Vector256<short> s0, s1, s2, s3;
            Vector256<byte> u;
            u = Avx.LoadVector256(w + 0);
            s0 = Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 2));
            s1 = Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 2));
            s2 = Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 2));
            s3 = Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 2));
            u = Avx.LoadVector256(w + 32);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 6));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 6));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 6));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 6));
            u = Avx.LoadVector256(w + 64);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 10));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 10));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 10));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 10));
            u = Avx.LoadVector256(w + 96);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 14));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 14));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 14));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 14));
            u = Avx.LoadVector256(w + 128);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 18));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 18));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 18));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 18));
            u = Avx.LoadVector256(w + 160);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 22));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 22));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 22));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 22));
            u = Avx.LoadVector256(w + 192);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 26));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 26));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 26));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 26));
            u = Avx.LoadVector256(w + 224);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 30));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 30));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 30));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 30));
            Accumulate(rs, os, ts, bs, Avx2.MultiplyAddAdjacent(s0, ones), Avx2.MultiplyAddAdjacent(s1, ones),
                Avx2.MultiplyAddAdjacent(s2, ones), Avx2.MultiplyAddAdjacent(s3, ones), ref f0, ref f1, ref f2, ref f3);
        }
        Avx.Store(results, f0);
        Avx.Store(results + 8, f1);
        Avx.Store(results + 16, f2);
        Avx.Store(results + 24, f3);
    }

    // As Kernel4Bit for the 5-bit types (Q5_0, Q5_1): four groups' int16 sums at most (4 x 2 x 31 x 128 = 31744), so two vpmaddwd per block.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Kernel5Bit(byte* w, float* rs, float* os, float* ts, float* bs, byte* x0, byte* x1, byte* x2, byte* x3, int nb, float* results)
    {
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        var ones = Vector256<short>.One;
        for (var b = 0; b < nb; b++, w += OctetBlockBytes, rs += RowTile, os += RowTile, ts += TokenTile, bs += 8,
            x0 += Q8_0Block.Bytes, x1 += Q8_0Block.Bytes, x2 += Q8_0Block.Bytes, x3 += Q8_0Block.Bytes)
        {
            Vector256<short> s0, s1, s2, s3;
            Vector256<byte> u;
            u = Avx.LoadVector256(w + 0);
            s0 = Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 2));
            s1 = Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 2));
            s2 = Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 2));
            s3 = Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 2));
            u = Avx.LoadVector256(w + 32);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 6));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 6));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 6));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 6));
            u = Avx.LoadVector256(w + 64);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 10));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 10));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 10));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 10));
            u = Avx.LoadVector256(w + 96);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 14));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 14));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 14));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 14));
            var i0 = Avx2.MultiplyAddAdjacent(s0, ones);
            var i1 = Avx2.MultiplyAddAdjacent(s1, ones);
            var i2 = Avx2.MultiplyAddAdjacent(s2, ones);
            var i3 = Avx2.MultiplyAddAdjacent(s3, ones);
            u = Avx.LoadVector256(w + 128);
            s0 = Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 18));
            s1 = Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 18));
            s2 = Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 18));
            s3 = Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 18));
            u = Avx.LoadVector256(w + 160);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 22));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 22));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 22));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 22));
            u = Avx.LoadVector256(w + 192);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 26));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 26));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 26));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 26));
            u = Avx.LoadVector256(w + 224);
            s0 += Avx2.MultiplyAddAdjacent(u, Broadcast(x0 + 30));
            s1 += Avx2.MultiplyAddAdjacent(u, Broadcast(x1 + 30));
            s2 += Avx2.MultiplyAddAdjacent(u, Broadcast(x2 + 30));
            s3 += Avx2.MultiplyAddAdjacent(u, Broadcast(x3 + 30));
            Accumulate(rs, os, ts, bs, i0 + Avx2.MultiplyAddAdjacent(s0, ones), i1 + Avx2.MultiplyAddAdjacent(s1, ones),
                i2 + Avx2.MultiplyAddAdjacent(s2, ones), i3 + Avx2.MultiplyAddAdjacent(s3, ones), ref f0, ref f1, ref f2, ref f3);
        }
        Avx.Store(results, f0);
        Avx.Store(results + 8, f1);
        Avx.Store(results + 16, f2);
        Avx.Store(results + 24, f3);
    }

    // f_c += i_c x row scales x token c's scale - offsets x token c's block sum.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(float* rs, float* os, float* ts, float* bs, Vector256<int> i0, Vector256<int> i1, Vector256<int> i2, Vector256<int> i3,
        ref Vector256<float> f0, ref Vector256<float> f1, ref Vector256<float> f2, ref Vector256<float> f3)
    {
        var d = Avx.LoadVector256(rs);
        var m = Avx.LoadVector256(os);
        f0 = Fma.MultiplyAddNegated(m, Vector256.Create(bs[0]), Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), d * Vector256.Create(ts[0]), f0));
        f1 = Fma.MultiplyAddNegated(m, Vector256.Create(bs[1]), Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), d * Vector256.Create(ts[1]), f1));
        f2 = Fma.MultiplyAddNegated(m, Vector256.Create(bs[2]), Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), d * Vector256.Create(ts[2]), f2));
        f3 = Fma.MultiplyAddNegated(m, Vector256.Create(bs[3]), Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), d * Vector256.Create(ts[3]), f3));
    }

    // As Kernel4Bit for Q8_0: vpmaddubsw multiplies |w| (one vpabsb per group, shared by the four tokens) by the token's broadcast bytes
    // given the weights' signs (vpsignb); each group's int16 pair sums (up to 2 x 128 x 127: a stored
    // -128 gives |w| = 128, activations are clamped to [-127, 127]) go to int32 at once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void KernelQ8(byte* w, int blockStride, float* rs, float* ts, byte* x0, byte* x1, byte* x2, byte* x3, int nb, float* results)
    {
        Vector256<float> f0 = default, f1 = default, f2 = default, f3 = default;
        var ones = Vector256<short>.One;
        for (var b = 0; b < nb; b++, w += blockStride, rs += RowTile, ts += TokenTile,
            x0 += Q8_0Block.Bytes, x1 += Q8_0Block.Bytes, x2 += Q8_0Block.Bytes, x3 += Q8_0Block.Bytes)
        {
            Vector256<int> i0, i1, i2, i3;
            Vector256<byte> u;
            Vector256<sbyte> v;
            v = Avx.LoadVector256((sbyte*)(w + 0));
            u = Avx2.Abs(v);
            i0 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 2), v)), ones);
            i1 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 2), v)), ones);
            i2 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 2), v)), ones);
            i3 = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 2), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 32));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 6), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 6), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 6), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 6), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 64));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 10), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 10), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 10), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 10), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 96));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 14), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 14), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 14), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 14), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 128));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 18), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 18), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 18), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 18), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 160));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 22), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 22), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 22), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 22), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 192));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 26), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 26), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 26), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 26), v)), ones);
            v = Avx.LoadVector256((sbyte*)(w + 224));
            u = Avx2.Abs(v);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x0 + 30), v)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x1 + 30), v)), ones);
            i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x2 + 30), v)), ones);
            i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, Avx2.Sign(Broadcast(x3 + 30), v)), ones);
            var d = Avx.LoadVector256(rs);
            f0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), d * Vector256.Create(ts[0]), f0);
            f1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), d * Vector256.Create(ts[1]), f1);
            f2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), d * Vector256.Create(ts[2]), f2);
            f3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), d * Vector256.Create(ts[3]), f3);
        }
        Avx.Store(results, f0);
        Avx.Store(results + 8, f1);
        Avx.Store(results + 16, f2);
        Avx.Store(results + 24, f3);
    }


    /// <summary>Rows [first, first + 8) (the last row repeated past <paramref name="rowCount"/>; those results are dropped) into one octet
    /// of the panel: per block, 8 vectors of 32 bytes, vector g holding elements 4g..4g+3 of row 0, then of row 1, ... (unsigned values,
    /// or w for Q8_0), the rows' block scales at <paramref name="scales"/>[8b..8b+7] and the offsets to subtract per unit of activation
    /// (8d for Q4_0, 16d for Q5_0, -m for Q5_1) at <paramref name="offsets"/>[8b..]. Element = scale x value - offset.</summary>
    private static void DecodeOctet(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, int first, int nb, Span<byte> panel, Span<float> scales, Span<float> offsets)
    {
        var rowStart = stackalloc byte*[RowTile];
        var values = stackalloc byte[OctetBlockBytes];
        fixed (byte* pr = rows, pp = panel)
        fixed (float* ps = scales, po = offsets)
        {
            for (var a = 0; a < RowTile; a++)
                rowStart[a] = pr + Math.Min(first + a, rowCount - 1) * rowBytes;
            switch (type)
            {
                case GgmlType.Q8_0:
                    // A full octet's blocks are rowBytes apart: transposed straight from the rows.
                    var direct = first + RowTile <= rowCount;
                    for (var b = 0; b < nb; b++)
                    {
                        for (var a = 0; a < RowTile; a++)
                        {
                            var blk = rowStart[a] + b * Q8_0Block.Bytes;
                            ps[b * RowTile + a] = HalfBits.ToSingle(*(ushort*)blk);
                            po[b * RowTile + a] = 0;
                            if (!direct)
                                Avx.Store(values + a * Block, Avx.LoadVector256(blk + Q8_0Block.Qs));
                        }
                        if (direct)
                            Transpose8x8(rowStart[0] + b * Q8_0Block.Bytes + Q8_0Block.Qs, rowBytes, pp + b * OctetBlockBytes);
                        else
                            Transpose(values, pp + b * OctetBlockBytes);
                    }
                    break;
                case GgmlType.Q4_0:
                    for (var b = 0; b < nb; b++)
                    {
                        for (var a = 0; a < RowTile; a++)
                        {
                            var blk = rowStart[a] + b * Q4_0Block.Bytes;
                            var d = HalfBits.ToSingle(*(ushort*)blk);
                            ps[b * RowTile + a] = d;
                            po[b * RowTile + a] = 8 * d;
                            Avx.Store(values + a * Block, QuantKernels.Nibbles32(blk + Q4_0Block.Qs));
                        }
                        Transpose(values, pp + b * OctetBlockBytes);
                    }
                    break;
                case GgmlType.Q5_0:
                    for (var b = 0; b < nb; b++)
                    {
                        for (var a = 0; a < RowTile; a++)
                        {
                            var blk = rowStart[a] + b * Q5_0Block.Bytes;
                            var d = HalfBits.ToSingle(*(ushort*)blk);
                            ps[b * RowTile + a] = d;
                            po[b * RowTile + a] = 16 * d;
                            Avx.Store(values + a * Block, QuantKernels.Unpack5Bit(ref *blk, Q5_0Block.Qs, Q5_0Block.Qh));
                        }
                        Transpose(values, pp + b * OctetBlockBytes);
                    }
                    break;
                case GgmlType.Q5_1:
                    for (var b = 0; b < nb; b++)
                    {
                        for (var a = 0; a < RowTile; a++)
                        {
                            var blk = rowStart[a] + b * Q5_1Block.Bytes;
                            ps[b * RowTile + a] = HalfBits.ToSingle(*(ushort*)blk);
                            po[b * RowTile + a] = -HalfBits.ToSingle(*(ushort*)(blk + Q5_1Block.M));
                            Avx.Store(values + a * Block, QuantKernels.Unpack5Bit(ref *blk, Q5_1Block.Qs, Q5_1Block.Qh));
                        }
                        Transpose(values, pp + b * OctetBlockBytes);
                    }
                    break;
                default:
                    throw new NotSupportedException($"No panel kernel for {type}.");
            }
        }
    }

    /// <summary>The 8 x 8 matrix of 32-bit words at <paramref name="src"/> (row a = 32 bytes of weight row a) transposed into <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(byte* src, byte* dst) => Transpose8x8(src, Block, dst);

    /// <summary>An 8 x 8 block of 32-bit words transposed: word i of row a (rows <paramref name="stride"/> bytes apart from
    /// <paramref name="src"/>) to word 8i + a of <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(byte* src, nint stride, byte* dst)
    {
        var r0 = Avx.LoadVector256((uint*)src);
        var r1 = Avx.LoadVector256((uint*)(src + stride));
        var r2 = Avx.LoadVector256((uint*)(src + 2 * stride));
        var r3 = Avx.LoadVector256((uint*)(src + 3 * stride));
        var r4 = Avx.LoadVector256((uint*)(src + 4 * stride));
        var r5 = Avx.LoadVector256((uint*)(src + 5 * stride));
        var r6 = Avx.LoadVector256((uint*)(src + 6 * stride));
        var r7 = Avx.LoadVector256((uint*)(src + 7 * stride));
        var t0 = Avx2.UnpackLow(r0, r1);
        var t1 = Avx2.UnpackHigh(r0, r1);
        var t2 = Avx2.UnpackLow(r2, r3);
        var t3 = Avx2.UnpackHigh(r2, r3);
        var t4 = Avx2.UnpackLow(r4, r5);
        var t5 = Avx2.UnpackHigh(r4, r5);
        var t6 = Avx2.UnpackLow(r6, r7);
        var t7 = Avx2.UnpackHigh(r6, r7);
        // u0: words 0 of rows 0-3 | words 4 of rows 0-3; u4 the same for rows 4-7; u1/u5 words 1 | 5, u2/u6 words 2 | 6, u3/u7 words 3 | 7.
        var u0 = Avx2.UnpackLow(t0.AsUInt64(), t2.AsUInt64());
        var u1 = Avx2.UnpackHigh(t0.AsUInt64(), t2.AsUInt64());
        var u2 = Avx2.UnpackLow(t1.AsUInt64(), t3.AsUInt64());
        var u3 = Avx2.UnpackHigh(t1.AsUInt64(), t3.AsUInt64());
        var u4 = Avx2.UnpackLow(t4.AsUInt64(), t6.AsUInt64());
        var u5 = Avx2.UnpackHigh(t4.AsUInt64(), t6.AsUInt64());
        var u6 = Avx2.UnpackLow(t5.AsUInt64(), t7.AsUInt64());
        var u7 = Avx2.UnpackHigh(t5.AsUInt64(), t7.AsUInt64());
        var d = (ulong*)dst;
        Avx.Store(d, Avx2.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + 4, Avx2.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 8, Avx2.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 12, Avx2.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 16, Avx2.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 20, Avx2.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 24, Avx2.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 28, Avx2.Permute2x128(u3, u7, 0x31));
    }
}
