using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>A few tokens at once (2 to <see cref="MaxTokens"/>: concurrent sequences decoding together): a range of weight rows against
/// T activation vectors quantized by <see cref="TensorOps.QuantizeActivations"/>. Each row is unpacked once into signed bytes with its
/// block scales, kept in L1, and dotted against every token, so a step over T sequences reads and unpacks the weights once instead of
/// T times. The activations' block scales and offsets are laid out once per call.</summary>
/// <remarks>Q8_0, Q4_0 and Q5_0 at 4 tokens or more take eight rows at a time with the rows as lanes (<c>RunOctets</c>); the rows left
/// over go one at a time: a weight block of 32 signed values q with scale s against an activation block of 32 signed bytes qx with
/// scale dx gives s·dx·Σ q·qx. Q4_K and Q6_K (and every type at 2-3 tokens) run as one-token row passes: at 3 tokens and more the
/// engine sends K-quants to the K-quant tiles instead (<see cref="Prefers"/>). Q8_0 comes here only when its weights are not repacked
/// into <see cref="Q8Octets"/> (rows not a multiple of 8, an odd fused split, repack: false); repacked Q8_0 takes the octet kernels.</remarks>
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

    /// <summary>True when <see cref="DotRows"/> handles <paramref name="tokens"/> tokens against rows of <paramref name="n"/> weights of
    /// <paramref name="type"/> faster than the prompt tiles: Q4_K and Q6_K from 3 tokens on go to the K-quant tiles, whose integer
    /// sub-block scales beat this kernel's float ones at every count measured (small-batch bench, weights streamed from memory, GMAC
    /// per CPU-second, small-batch against tiles: Q4_K T=4 12.3 / 38.1, T=8 15.8 / 54.6; Q6_K T=4 15.6 / 21.0, T=8 18.1 / 32.0).</summary>
    public static bool Prefers(GgmlType type, int n, int tokens) =>
        tokens is > 1 and <= MaxTokens && Supports(type, n) && (tokens <= RowPassTokens(type) || !IsKQuant(type));

    // Token counts up to which a one-token row-kernel pass per token beats both this kernel's per-row path and the prompt tiles
    // (small-batch bench, one thread, L2 and streamed, 2026-11-24 01:27 UTC: a T-token pass over a one-token pass, Q8_0 T=2 4.2x,
    // T=3 5.2x, tiles 4.3x / 4.5x; Q5_0 T=2 3.3x, T=3 4.0x; Q4_K T=2 7.0x, tiles 2.5x; Q6_K T=2 4.8x, tiles 2.2-3.1x). From four
    // tokens the octets win for the 32-weight types (Q8_0 T=4 3.5x); from three the K-quant tiles do (Q4_K T=3 2.5-2.7x). The Q8_0
    // figures hold for Q8_0 not repacked into Q8Octets (rows not a multiple of 8, an odd fused split, repack: false), the only Q8_0 here.
    private static int RowPassTokens(GgmlType type) => IsKQuant(type) ? 2 : MinOctetTokens - 1;

    private static bool IsKQuant(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q6_K;

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
        if (IsKQuant(type) || tokens <= RowPassTokens(type))
        {
            // A one-token pass per token: the same sums as decoding the tokens one at a time, and less work at these counts.
            for (var j = 0; j < tokens; j++)
                RowKernels.DotQ8(type, rows, rowCount, xq.Slice(j * xBytes, xBytes), n, y.Slice(outputs[j], rowCount));
            return;
        }
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
        // The products of the row's block scales with the tokens' activation scales are taken eight at a time per row, and the token
        // loops multiply-add with a broadcast of one.
        // Tokens padded to whole vectors in the block-major tables.
        var stride = (tokens + 7) & ~7;
        // Per row: |q| and q of every block, every block's scale, the scale products.
        var absQ = stackalloc byte[blocks * 32];
        var q = stackalloc byte[blocks * 32];
        var scales = stackalloc float[blocks];
        var products = stackalloc float[blocks * stride];
        // Per call: where each activation block's bytes start, each (block, token)'s scale.
        var xOffsets = stackalloc int[blocks];
        var dx = stackalloc float[blocks * stride];
        new Span<float>(dx, blocks * stride).Clear();
        fixed (byte* pw = rows, px = xq)
        fixed (float* py = y)
        {
            for (var b = 0; b < blocks; b++)
                xOffsets[b] = b * Q8_0Block.Bytes + Q8_0Block.Qs;
            for (var j = 0; j < tokens; j++)
            {
                var x = px + (long)j * xBytes;
                for (var b = 0; b < blocks; b++)
                    dx[b * stride + j] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(x + b * Q8_0Block.Bytes));
            }

            // Q8_0, Q4_0, Q5_0 at 4 tokens or more: eight rows at a time with the rows as lanes (RunOctets); the rows left over one at a
            // time below. At 2 and 3 tokens the transpose costs more than it saves (small-batch bench, weights streamed from memory).
            var octetRows = tokens >= MinOctetTokens ? rowCount & ~7 : 0;
            if (octetRows > 0)
                RunOctets(type, pw, rowBytes, octetRows, px, xBytes, tokens, blocks, xOffsets, dx, stride, py, outputs);
            for (var r = octetRows; r < rowCount; r++)
            {
                Unpack(type, pw + (long)r * rowBytes, blocks, absQ, q, scales);
                for (var b = 0; b < blocks; b++)
                {
                    var w = Vector256.Create(scales[b]);
                    for (var t = 0; t < stride; t += 8)
                        (w * Vector256.Load(dx + b * stride + t)).Store(products + b * stride + t);
                }
                var j = 0;
                for (; j + 8 <= tokens; j += 8)
                    DotGroup8(absQ, q, blocks, px + (long)j * xBytes, xBytes, xOffsets, products + j, stride, py, outputs.Slice(j, 8), r);
                for (; j + 4 <= tokens; j += 4)
                    DotGroup4(absQ, q, blocks, px + (long)j * xBytes, xBytes, xOffsets, products + j, stride, py, outputs.Slice(j, 4), r);
                for (; j + 2 <= tokens; j += 2)
                    DotGroup2(absQ, q, blocks, px + (long)j * xBytes, xBytes, xOffsets, products + j, stride, py, outputs.Slice(j, 2), r);
                if (j < tokens)
                    py[outputs[j] + r] = DotOne(absQ, q, blocks, px + (long)j * xBytes, xOffsets, products + j, stride);
            }
        }
    }

    // Blocks of eight rows unpacked at a time into the rows-as-lanes layout: 8 rows x 256 bytes = 8 KiB on the stack, in L1 while every
    // token passes over them. The dot loops take |q| from q (one vpabsb per group per pass), which measured 3-5% faster than storing |q|
    // beside q in the unpack (small-batch bench, streamed, T=8).
    private const int OctetBlocks = 32;
    private const int MinOctetTokens = 4;

    // Eight rows against every token with the rows as lanes (the layout llama.cpp's repacked kernels use): 4-byte group g of block b
    // of the eight rows is one vector (lane r = row r), so a broadcast of the token's bytes 4g..4g+3 dots all eight rows at once, the
    // integer sums of a block end in one vector per token (no horizontal sum per row and token), one convert and one multiply-add
    // scale it by the eight rows' block scales times the token's, and the eight results are stored as one vector.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RunOctets(GgmlType type, byte* pw, int rowBytes, int octetRows, byte* px, int xBytes, int tokens, int blocks,
        int* xOffsets, float* dx, int stride, float* py, ReadOnlySpan<int> outputs)
    {
        // Q8_0 is rewritten chunk by chunk into Q8Octets' layout (its scales inside) and dotted by its kernels; Q4_0 and Q5_0 are
        // unpacked here. Their values are at most 16 in magnitude: the pair sums of a whole block's eight groups (8 · 2 · 16 · 127) add
        // up in shorts, with one widening per block instead of one per group.
        var w = stackalloc byte[OctetBlocks * Q8Octets.BlockBytes];
        var scales = stackalloc float[OctetBlocks * 8];
        var acc = stackalloc float[MaxTokens * 8];
        var q8 = type == GgmlType.Q8_0;
        for (var r0 = 0; r0 < octetRows; r0 += 8)
        {
            // The eight rows are read side by side, block by block: eight interleaved streams the hardware prefetcher follows poorly
            // (measured: 10-25% slower than one row after the other with the weights streamed from memory). Unpacking a block of
            // these rows asks for the same block of the next eight.
            var next = r0 + 8 < octetRows ? rowBytes * 8 : 0;
            new Span<float>(acc, tokens * 8).Clear();
            for (var b0 = 0; b0 < blocks; b0 += OctetBlocks)
            {
                var nb = Math.Min(OctetBlocks, blocks - b0);
                if (q8)
                {
                    Q8Octets.RepackOctet(pw + (long)r0 * rowBytes + (long)b0 * Q8_0Block.Bytes, rowBytes, nb, w, next);
                    Q8Octets.DotChunk(w, nb, px + b0 * Q8_0Block.Bytes + Q8_0Block.Qs, xBytes, tokens, dx + b0 * stride, stride, acc);
                    continue;
                }
                UnpackOctet(type, pw + (long)r0 * rowBytes + (long)b0 * GgmlTypes.BlockBytes(type), rowBytes, next, nb, w, scales);
                var j = 0;
                for (; j + 8 <= tokens; j += 8)
                    OctetDot8Narrow(w, scales, nb, px + (long)j * xBytes, xBytes, xOffsets + b0, dx + b0 * stride + j, stride, acc + 8 * j);
                for (; j + 4 <= tokens; j += 4)
                    OctetDot4Narrow(w, scales, nb, px + (long)j * xBytes, xBytes, xOffsets + b0, dx + b0 * stride + j, stride, acc + 8 * j);
                for (; j < tokens; j++)
                    OctetDot1(w, scales, nb, px + (long)j * xBytes, xOffsets + b0, dx + b0 * stride + j, stride, acc + 8 * j);
            }
            for (var j = 0; j < tokens; j++)
                Vector256.Load(acc + 8 * j).Store(py + outputs[j] + r0);
        }
    }

    // Eight tokens against eight rows, Q4_0 / Q5_0.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void OctetDot8Narrow(byte* w, float* scales, int blocks, byte* x, int xBytes, int* xOffsets, float* dx, int stride, float* acc)
    {
        var ones = Vector256.Create((short)1);
        for (var b = 0; b < blocks; b++)
        {
            var x0 = x + xOffsets[b];
            var ps = (sbyte*)(w + 256 * b);
            Vector256<short> h0 = default, h1 = default, h2 = default, h3 = default, h4 = default, h5 = default, h6 = default, h7 = default;
            for (var g = 0; g < 32; g += 4)
            {
                var s = Vector256.Load(ps + 8 * g);
                var a = Vector256.Abs(s).AsByte();
                var xg = x0 + g;
                h0 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg), s));
                h1 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + xBytes), s));
                h2 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 2 * xBytes), s));
                h3 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 3 * xBytes), s));
                h4 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 4 * xBytes), s));
                h5 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 5 * xBytes), s));
                h6 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 6 * xBytes), s));
                h7 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 7 * xBytes), s));
            }
            ScaleInto(Avx2.MultiplyAddAdjacent(h0, ones), Avx2.MultiplyAddAdjacent(h1, ones), Avx2.MultiplyAddAdjacent(h2, ones),
                Avx2.MultiplyAddAdjacent(h3, ones), Avx2.MultiplyAddAdjacent(h4, ones), Avx2.MultiplyAddAdjacent(h5, ones),
                Avx2.MultiplyAddAdjacent(h6, ones), Avx2.MultiplyAddAdjacent(h7, ones), Vector256.Load(scales + 8 * b), dx + b * stride, acc);
        }
    }

    // acc[8t..8t+8) += float(i_t) · scales · d[t] for the eight tokens of a block.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void ScaleInto(Vector256<int> i0, Vector256<int> i1, Vector256<int> i2, Vector256<int> i3, Vector256<int> i4,
        Vector256<int> i5, Vector256<int> i6, Vector256<int> i7, Vector256<float> sc, float* d, float* acc)
    {
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i0), sc * Vector256.Create(d[0]), Vector256.Load(acc)).Store(acc);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i1), sc * Vector256.Create(d[1]), Vector256.Load(acc + 8)).Store(acc + 8);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i2), sc * Vector256.Create(d[2]), Vector256.Load(acc + 16)).Store(acc + 16);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i3), sc * Vector256.Create(d[3]), Vector256.Load(acc + 24)).Store(acc + 24);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i4), sc * Vector256.Create(d[4]), Vector256.Load(acc + 32)).Store(acc + 32);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i5), sc * Vector256.Create(d[5]), Vector256.Load(acc + 40)).Store(acc + 40);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i6), sc * Vector256.Create(d[6]), Vector256.Load(acc + 48)).Store(acc + 48);
        Fma.MultiplyAdd(Vector256.ConvertToSingle(i7), sc * Vector256.Create(d[7]), Vector256.Load(acc + 56)).Store(acc + 56);
    }

    // Four tokens against eight rows, Q4_0 / Q5_0: a block's pair sums add up in shorts and are widened once.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void OctetDot4Narrow(byte* w, float* scales, int blocks, byte* x, int xBytes, int* xOffsets, float* dx, int stride, float* acc)
    {
        var ones = Vector256.Create((short)1);
        var f0 = Vector256.Load(acc);
        var f1 = Vector256.Load(acc + 8);
        var f2 = Vector256.Load(acc + 16);
        var f3 = Vector256.Load(acc + 24);
        for (var b = 0; b < blocks; b++)
        {
            byte* x0 = x + xOffsets[b], x1 = x0 + xBytes, x2 = x1 + xBytes, x3 = x2 + xBytes;
            var ps = (sbyte*)(w + 256 * b);
            Vector256<short> h0 = default, h1 = default, h2 = default, h3 = default;
            for (var g = 0; g < 32; g += 4)
            {
                var s = Vector256.Load(ps + 8 * g);
                var a = Vector256.Abs(s).AsByte();
                h0 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x0 + g), s));
                h1 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x1 + g), s));
                h2 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x2 + g), s));
                h3 += Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x3 + g), s));
            }
            var sc = Vector256.Load(scales + 8 * b);
            var d = dx + b * stride;
            f0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(h0, ones)), sc * Vector256.Create(d[0]), f0);
            f1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(h1, ones)), sc * Vector256.Create(d[1]), f1);
            f2 = Fma.MultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(h2, ones)), sc * Vector256.Create(d[2]), f2);
            f3 = Fma.MultiplyAdd(Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(h3, ones)), sc * Vector256.Create(d[3]), f3);
        }
        f0.Store(acc);
        f1.Store(acc + 8);
        f2.Store(acc + 16);
        f3.Store(acc + 24);
    }

    // One token against eight rows (the tokens left over after the groups of four), Q4_0 / Q5_0.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void OctetDot1(byte* w, float* scales, int blocks, byte* x, int* xOffsets, float* dx, int stride, float* acc)
    {
        var ones = Vector256.Create((short)1);
        var f = Vector256.Load(acc);
        for (var b = 0; b < blocks; b++)
        {
            var x0 = x + xOffsets[b];
            var ps = (sbyte*)(w + 256 * b);
            Vector256<int> i0 = default, i1 = default;
            for (var g = 0; g < 32; g += 8)
            {
                var s0 = Vector256.Load(ps + 8 * g);
                var s1 = Vector256.Load(ps + 8 * g + 32);
                i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Abs(s0).AsByte(), Avx2.Sign(PanelKernels.Broadcast(x0 + g), s0)), ones);
                i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Abs(s1).AsByte(), Avx2.Sign(PanelKernels.Broadcast(x0 + g + 4), s1)), ones);
            }
            f = Fma.MultiplyAdd(Vector256.ConvertToSingle(i0 + i1), Vector256.Load(scales + 8 * b) * Vector256.Create(dx[b * stride]), f);
        }
        f.Store(acc);
    }

    // Blocks [0, blocks) of eight rows (row r at row + r·rowBytes) into the rows-as-lanes layout: q of 4-byte group g of block
    // b at 256b + 32g, lane r from row r; the eight rows' scales of block b at 8b. Prefetches the blocks <paramref name="prefetch"/>
    // bytes ahead (0: none).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void UnpackOctet(GgmlType type, byte* row, int rowBytes, int prefetch, int blocks, byte* w, float* scales)
    {
        var blockBytes = GgmlTypes.BlockBytes(type);
        var rowOffsets = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * rowBytes;
        for (var b = 0; b < blocks; b++)
        {
            var blk = row + b * blockBytes;
            if (prefetch != 0)
            {
                var ahead = blk + prefetch;
                for (var r = 0; r < 8; r++)
                    Sse.Prefetch0(ahead + r * rowBytes);
            }
            // The half scale leads each of these blocks: one gather of the eight rows' first words, converted eight at a time.
            var halves = Avx2.GatherVector256((int*)blk, rowOffsets, 1).AsUInt32() & Vector256.Create(0xFFFFu);
            FloatKernels.HalfToSingle(halves).Store(scales + 8 * b);
            var v0 = BlockValues(type, blk);
            var v1 = BlockValues(type, blk + rowBytes);
            var v2 = BlockValues(type, blk + 2 * rowBytes);
            var v3 = BlockValues(type, blk + 3 * rowBytes);
            var v4 = BlockValues(type, blk + 4 * rowBytes);
            var v5 = BlockValues(type, blk + 5 * rowBytes);
            var v6 = BlockValues(type, blk + 6 * rowBytes);
            var v7 = BlockValues(type, blk + 7 * rowBytes);
            // An 8 x 8 transpose of 4-byte words: rows to lanes.
            Vector256<int> t0 = Avx2.UnpackLow(v0, v1), t1 = Avx2.UnpackHigh(v0, v1), t2 = Avx2.UnpackLow(v2, v3), t3 = Avx2.UnpackHigh(v2, v3);
            Vector256<int> t4 = Avx2.UnpackLow(v4, v5), t5 = Avx2.UnpackHigh(v4, v5), t6 = Avx2.UnpackLow(v6, v7), t7 = Avx2.UnpackHigh(v6, v7);
            var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64()).AsInt32();
            var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64()).AsInt32();
            var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64()).AsInt32();
            var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64()).AsInt32();
            var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64()).AsInt32();
            var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64()).AsInt32();
            var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64()).AsInt32();
            var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64()).AsInt32();
            var ps = w + 256 * b;
            Avx2.Permute2x128(u0, u4, 0x20).AsByte().Store(ps);
            Avx2.Permute2x128(u1, u5, 0x20).AsByte().Store(ps + 32);
            Avx2.Permute2x128(u2, u6, 0x20).AsByte().Store(ps + 64);
            Avx2.Permute2x128(u3, u7, 0x20).AsByte().Store(ps + 96);
            Avx2.Permute2x128(u0, u4, 0x31).AsByte().Store(ps + 128);
            Avx2.Permute2x128(u1, u5, 0x31).AsByte().Store(ps + 160);
            Avx2.Permute2x128(u2, u6, 0x31).AsByte().Store(ps + 192);
            Avx2.Permute2x128(u3, u7, 0x31).AsByte().Store(ps + 224);
        }
    }

    // One block's 32 signed values as 4-byte words.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockValues(GgmlType type, byte* blk) =>
        type switch
        {
            GgmlType.Q4_0 => (QuantKernels.Nibbles32(blk + Q4_0Block.Qs) - Vector256.Create((byte)8)).AsInt32(),
            _ => (QuantKernels.Unpack5Bit(ref *blk, Q5_0Block.Qs, Q5_0Block.Qh) - Vector256.Create((byte)16)).AsInt32(),
        };


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

    // Lane i: the sum of q·qx over bytes 4i..4i+3 (lanes 0-3 the block's first half, 4-7 its second). |q|·sign(qx, q) = q·qx keeps the
    // unsigned-by-signed multiply exact: |q| ≤ 128 and |qx| ≤ 127, so a pair of products stays within a short.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<int> BlockDot(Vector256<byte> absQ, Vector256<sbyte> q, byte* x, Vector256<short> ones) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(absQ, Avx2.Sign(Vector256.Load((sbyte*)x), q)), ones);

    // ---------- unpacking one row into the common layout ----------

    private static unsafe void Unpack(GgmlType type, byte* row, int blocks, byte* absQ, byte* q, float* scales)
    {
        switch (type)
        {
            case GgmlType.Q8_0:
                for (var b = 0; b < blocks; b++)
                {
                    var blk = row + b * Q8_0Block.Bytes;
                    Store(Vector256.Load((sbyte*)(blk + Q8_0Block.Qs)), absQ, q, b);
                    scales[b] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q8_0Block.D));
                }
                break;
            case GgmlType.Q4_0:
                for (var b = 0; b < blocks; b++)
                {
                    var blk = row + b * Q4_0Block.Bytes;
                    Store((QuantKernels.Nibbles32(blk + Q4_0Block.Qs) - Vector256.Create((byte)8)).AsSByte(), absQ, q, b);
                    scales[b] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q4_0Block.D));
                }
                break;
            default: // Q5_0
                for (var b = 0; b < blocks; b++)
                {
                    var blk = row + b * Q5_0Block.Bytes;
                    var values = QuantKernels.Unpack5Bit(ref *blk, Q5_0Block.Qs, Q5_0Block.Qh);
                    Store((values - Vector256.Create((byte)16)).AsSByte(), absQ, q, b);
                    scales[b] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(blk + Q5_0Block.D));
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
