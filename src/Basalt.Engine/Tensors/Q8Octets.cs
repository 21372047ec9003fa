using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Q8_0 weights repacked once at load into octets (as llama.cpp's CPU "repack" of block_q8_0 into 8-row groups): the 8 rows
/// [8k, 8k + 8) of a matrix become octet k, stored block after block, each block 272 bytes: the 8 rows' half scales (16 bytes), then
/// the 8 rows' 32 quants with the rows as lanes: 4-byte group g of the block at 16 + 32g, lane r (bytes 4r..4r+3) from row r. An octet
/// takes exactly the bytes of its 8 rows in the file's layout (8 x 34 = 272 a block) and sits at the same offset, so slices at multiples
/// of 8 rows stay octets. Every kernel reads an octet as one sequential stream: a broadcast of a token's 4 bytes dots a group of all 8
/// rows at once (vpmaddubsw / vpmaddwd), a block's 8 row sums end as int32 lanes, and one multiply-add per block scales them by the 8
/// rows' scales (converted from halves in the kernel) times the token's; the 8 results are stored as one vector. Nothing is gathered or
/// transposed per step.</summary>
internal static unsafe class Q8Octets
{
    /// <summary>Rows per octet.</summary>
    public const int Rows = 8;
    /// <summary>Bytes of one block of an octet: 8 half scales, then 8 x 32 quants.</summary>
    public const int BlockBytes = Rows * Q8_0Block.Bytes;
    /// <summary>Offset of the quants in an octet block.</summary>
    public const int Quants = 2 * Rows;
    /// <summary>Most tokens per <see cref="DotRows"/> call (the scheduler's decode steps).</summary>
    public const int MaxTokens = SmallBatchKernels.MaxTokens;

    // Blocks of an octet dotted with every token group before the next blocks: 32 x 272 bytes = 8.5 KiB stays in L1 across the groups.
    private const int ChunkBlocks = 32;
    // Decoding prefetches the octet stream this far ahead (about 30 blocks): measured against 2 and 4 KiB ahead and the row kernels
    // (small-batch bench, 65536 rows streamed, T = 1, 2026-11-24 02:47 UTC, load ~5): 8 KiB gave 20.4-22.8 GMAC per CPU-second
    // against 17-19 for 2 KiB and 15-17.6 for the row kernels.
    private const int PrefetchBytes = 8192;

    /// <summary>True when a <paramref name="type"/> matrix of <paramref name="rows"/> x <paramref name="cols"/> can be stored as octets on
    /// this machine (the octet kernels need AVX2 and FMA).</summary>
    public static bool Supports(GgmlType type, int rows, int cols) =>
        Avx2.IsSupported && Fma.IsSupported && type == GgmlType.Q8_0 && rows > 0 && rows % Rows == 0 && cols > 0 && cols % Q8_0Block.Size == 0;

    /// <summary>Rewrites octets [<paramref name="firstOctet"/>, + <paramref name="octetCount"/>) of Q8_0 rows of <paramref name="rowBytes"/>
    /// bytes (<paramref name="blocks"/> blocks each) at <paramref name="source"/> into <paramref name="target"/>, at the same offsets.
    /// Callers hold <see cref="Supports"/> (AVX2).</summary>
    public static void Repack(byte* source, byte* target, long rowBytes, int blocks, int firstOctet, int octetCount)
    {
        for (var o = firstOctet; o < firstOctet + octetCount; o++)
            RepackOctet(source + o * Rows * rowBytes, rowBytes, blocks, target + o * Rows * rowBytes);
    }

    /// <summary>Blocks [0, <paramref name="blocks"/>) of the 8 Q8_0 rows at <paramref name="rows"/> (<paramref name="rowBytes"/> apart,
    /// the file's layout) as octet blocks at <paramref name="target"/>: a whole octet, or one chunk of it for <see cref="DotChunk"/>.
    /// Prefetches each block's rows <paramref name="prefetch"/> bytes ahead (0: none): eight interleaved streams the hardware
    /// prefetcher follows poorly.</summary>
    internal static void RepackOctet(byte* rows, long rowBytes, int blocks, byte* target, long prefetch = 0)
    {
        for (var b = 0; b < blocks; b++)
        {
            var blk = rows + b * Q8_0Block.Bytes;
            if (prefetch != 0)
                for (var r = 0; r < Rows; r++)
                    Sse.Prefetch0(blk + prefetch + r * rowBytes);
            var ob = target + b * BlockBytes;
            for (var r = 0; r < Rows; r++)
                ((ushort*)ob)[r] = Unsafe.ReadUnaligned<ushort>(blk + r * rowBytes + Q8_0Block.D);
            PanelKernels.Transpose8x8(blk + Q8_0Block.Qs, (nint)rowBytes, ob + Quants);
        }
    }

    /// <summary>Row <paramref name="row"/> of the octets at <paramref name="octets"/> back in the file's Q8_0 encoding.</summary>
    public static void CopyRow(byte* octets, long rowBytes, int row, int blocks, Span<byte> destination)
    {
        var p = octets + (row / Rows) * Rows * rowBytes;
        var r = row % Rows;
        for (var b = 0; b < blocks; b++)
        {
            var ob = p + b * BlockBytes;
            var blk = destination.Slice(b * Q8_0Block.Bytes, Q8_0Block.Bytes);
            MemoryMarshal.Write(blk[Q8_0Block.D..], ((ushort*)ob)[r]);
            for (var g = 0; g < Q8_0Block.Size / 4; g++)
                MemoryMarshal.Write(blk[(Q8_0Block.Qs + 4 * g)..], Unsafe.ReadUnaligned<uint>(ob + Quants + 32 * g + 4 * r));
        }
    }

    /// <summary>Row <paramref name="row"/> as floats (the embedding lookup): d x q, as <see cref="TensorOps.DequantizeRow"/> gives for the
    /// original row.</summary>
    public static void DequantizeRow(byte* octets, long rowBytes, int row, int blocks, Span<float> destination)
    {
        var p = octets + (row / Rows) * Rows * rowBytes;
        var r = row % Rows;
        for (var b = 0; b < blocks; b++)
        {
            var ob = p + b * BlockBytes;
            var d = HalfBits.ToSingle(((ushort*)ob)[r]);
            var y = destination.Slice(b * Q8_0Block.Size, Q8_0Block.Size);
            for (var g = 0; g < Q8_0Block.Size / 4; g++)
                for (var k = 0; k < 4; k++)
                    y[4 * g + k] = d * (sbyte)ob[Quants + 32 * g + 4 * r + k];
        }
    }

    /// <summary>y[outputs[j] + r - rowStart] = row_r · x_j for rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>) of the octets
    /// <paramref name="octets"/> (<paramref name="rowCount"/> rows of <paramref name="n"/> weights) and <paramref name="tokens"/> Q8_0
    /// activation vectors of <paramref name="xBytes"/> bytes each, back to back in <paramref name="xq"/>. One token is decoding; more are
    /// concurrent sequences decoding together (or prompt rows the prompt tiles could not take).</summary>
    public static void DotRows(ReadOnlySpan<byte> octets, int rowCount, int n, int rowStart, int rowEnd, ReadOnlySpan<byte> xq, int xBytes,
        int tokens, Span<float> y, ReadOnlySpan<int> outputs)
    {
        if (!Supports(GgmlType.Q8_0, rowCount, n))
            throw new NotSupportedException($"No octet kernel for {rowCount} rows of {n} weights on this machine.");
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        if (octets.Length < (long)rowCount * rowBytes)
            throw new ArgumentException($"{rowCount} Q8_0 rows of {n} weights take {(long)rowCount * rowBytes} bytes; got {octets.Length}.", nameof(octets));
        if (rowStart < 0 || rowEnd > rowCount || rowStart > rowEnd)
            throw new ArgumentOutOfRangeException(nameof(rowEnd), $"Rows [{rowStart}, {rowEnd}) are outside the {rowCount} rows.");
        if (tokens < 1 || tokens > MaxTokens || outputs.Length < tokens)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"The octet kernels take 1 to {MaxTokens} tokens with an output offset each; got {tokens}.");
        if (xBytes != TensorOps.ActivationSize(GgmlType.Q8_0, n) || xq.Length < (long)tokens * xBytes)
            throw new ArgumentException($"{tokens} Q8_0 activation vectors of {n} elements take {tokens * TensorOps.ActivationSize(GgmlType.Q8_0, n)} bytes.", nameof(xq));
        for (var j = 0; j < tokens; j++)
            if (outputs[j] < 0 || outputs[j] + (rowEnd - rowStart) > y.Length)
                throw new ArgumentOutOfRangeException(nameof(outputs), $"Output offset {outputs[j]} leaves no room for {rowEnd - rowStart} results in {y.Length}.");
        if (rowStart == rowEnd)
            return;
        var blocks = n / Q8_0Block.Size;
        fixed (byte* pw = octets, px = xq)
        fixed (float* py = y)
        {
            if (tokens == 1)
                Decode(pw, rowBytes * Rows, blocks, rowStart, rowEnd, px, py + outputs[0] - rowStart);
            else
                Batch(pw, rowBytes * Rows, blocks, rowStart, rowEnd, px, xBytes, tokens, py, outputs);
        }
    }

    /// <summary>Reference: each row copied back to the file's encoding and dotted by <see cref="TensorOps.DotQ8"/>.</summary>
    internal static void Reference(ReadOnlySpan<byte> octets, int n, int rowStart, int rowEnd, ReadOnlySpan<byte> xq, int xBytes, int tokens,
        Span<float> y, ReadOnlySpan<int> outputs)
    {
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        var row = new byte[rowBytes];
        for (var r = rowStart; r < rowEnd; r++)
        {
            fixed (byte* p = octets)
                CopyRow(p, rowBytes, r, n / Q8_0Block.Size, row);
            for (var j = 0; j < tokens; j++)
                y[outputs[j] + r - rowStart] = TensorOps.DotQ8(GgmlType.Q8_0, row, xq.Slice(j * xBytes, xBytes), n);
        }
    }

    // One token: whole octets straight into y (y[r] for row r), the partial octets at either end through a vector on the stack.
    private static void Decode(byte* w, int octetBytes, int blocks, int rowStart, int rowEnd, byte* x, float* y)
    {
        var dx = stackalloc float[blocks];
        for (var b = 0; b < blocks; b++)
            dx[b] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(x + b * Q8_0Block.Bytes + Q8_0Block.D));
        var first = (rowStart + Rows - 1) / Rows;
        var last = rowEnd / Rows;
        var edge = stackalloc float[Rows];
        if (first > last)
        {
            // Inside one octet.
            Decode1(w + (long)(rowStart / Rows) * octetBytes, octetBytes, 1, blocks, x, dx, edge);
            for (var r = rowStart; r < rowEnd; r++)
                y[r] = edge[r % Rows];
            return;
        }
        if (rowStart % Rows != 0)
        {
            Decode1(w + (long)(first - 1) * octetBytes, octetBytes, 1, blocks, x, dx, edge);
            for (var r = rowStart; r < first * Rows; r++)
                y[r] = edge[r % Rows];
        }
        if (last > first)
            Decode1(w + (long)first * octetBytes, octetBytes, last - first, blocks, x, dx, y + first * Rows);
        if (rowEnd % Rows != 0)
        {
            Decode1(w + (long)last * octetBytes, octetBytes, 1, blocks, x, dx, edge);
            for (var r = last * Rows; r < rowEnd; r++)
                y[r] = edge[r % Rows];
        }
    }

    // Octets [0, count) against one token: the octets are one sequential stream; per block eight groups of vpsignb / vpmaddubsw /
    // vpmaddwd (a group's pair sums, up to 2 x 128 x 127, go to int32 at once), one conversion and one multiply-add for the 8 rows.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Decode1(byte* w, int octetBytes, int count, int blocks, byte* x, float* dx, float* y)
    {
        var ones = Vector256<short>.One;
        for (var o = 0; o < count; o++, w += octetBytes, y += Rows)
        {
            Vector256<float> f0 = default, f1 = default;
            var blk = w;
            var xb = x + Q8_0Block.Qs;
            var b = 0;
            for (; b + 2 <= blocks; b += 2, blk += 2 * BlockBytes, xb += 2 * Q8_0Block.Bytes)
            {
                // The hardware prefetcher alone left the one stream slower than the row kernels' four (15.0 against 16.8).
                var ahead = blk + PrefetchBytes;
                Sse.Prefetch0(ahead);
                Sse.Prefetch0(ahead + 64);
                Sse.Prefetch0(ahead + 128);
                Sse.Prefetch0(ahead + 192);
                Sse.Prefetch0(ahead + 256);
                Sse.Prefetch0(ahead + 320);
                Sse.Prefetch0(ahead + 384);
                Sse.Prefetch0(ahead + 448);
                Sse.Prefetch0(ahead + 512);
                f0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockSum(blk, xb, ones)), Scales(blk) * Vector256.Create(dx[b]), f0);
                f1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockSum(blk + BlockBytes, xb + Q8_0Block.Bytes, ones)),
                    Scales(blk + BlockBytes) * Vector256.Create(dx[b + 1]), f1);
            }
            if (b < blocks)
                f0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockSum(blk, xb, ones)), Scales(blk) * Vector256.Create(dx[b]), f0);
            (f0 + f1).Store(y);
        }
    }

    // The block's 8 row dots with one token's 32 quants at xb, as int32 lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> BlockSum(byte* blk, byte* xb, Vector256<short> ones)
    {
        var q = (sbyte*)(blk + Quants);
        Vector256<int> i0 = default, i1 = default;
        for (var g = 0; g < 8; g += 2)
        {
            var s0 = Vector256.Load(q + 32 * g);
            var s1 = Vector256.Load(q + 32 * g + 32);
            i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Abs(s0).AsByte(), Avx2.Sign(PanelKernels.Broadcast(xb + 4 * g), s0)), ones);
            i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Vector256.Abs(s1).AsByte(), Avx2.Sign(PanelKernels.Broadcast(xb + 4 * g + 4), s1)), ones);
        }
        return i0 + i1;
    }

    // The 8 rows' scales of an octet block as floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Scales(byte* blk) =>
        FloatKernels.HalfToSingle(Avx2.ConvertToVector256Int32(Vector128.Load((ushort*)blk)).AsUInt32());

    // Several tokens: per octet, chunks of ChunkBlocks blocks dotted with groups of 8, 4, 2 and 1 tokens while the chunk is in L1; the eight
    // rows' sums of each token gather in acc (8 floats a token) and are stored once per octet.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Batch(byte* w, int octetBytes, int blocks, int rowStart, int rowEnd, byte* x, int xBytes, int tokens, float* y,
        ReadOnlySpan<int> outputs)
    {
        // Tokens padded to whole vectors in the block-major table of activation scales (dx[b * stride + j]).
        var stride = (tokens + 7) & ~7;
        var dx = stackalloc float[blocks * stride];
        for (var j = 0; j < tokens; j++)
        {
            var xj = x + (long)j * xBytes;
            for (var b = 0; b < blocks; b++)
                dx[b * stride + j] = HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(xj + b * Q8_0Block.Bytes + Q8_0Block.D));
        }
        var acc = stackalloc float[MaxTokens * Rows];
        for (var o = rowStart / Rows; o * Rows < rowEnd; o++)
        {
            var octet = w + (long)o * octetBytes;
            new Span<float>(acc, tokens * Rows).Clear();
            for (var b0 = 0; b0 < blocks; b0 += ChunkBlocks)
            {
                var nb = Math.Min(ChunkBlocks, blocks - b0);
                DotChunk(octet + b0 * BlockBytes, nb, x + b0 * Q8_0Block.Bytes + Q8_0Block.Qs, xBytes, tokens, dx + b0 * stride, stride, acc);
            }
            var r0 = o * Rows;
            if (r0 >= rowStart && r0 + Rows <= rowEnd)
                for (var j = 0; j < tokens; j++)
                    Vector256.Load(acc + Rows * j).Store(y + outputs[j] + r0 - rowStart);
            else
                for (var j = 0; j < tokens; j++)
                    for (var r = Math.Max(r0, rowStart); r < Math.Min(r0 + Rows, rowEnd); r++)
                        y[outputs[j] + r - rowStart] = acc[Rows * j + r - r0];
        }
    }

    /// <summary>acc[8j..8j+8) += the 8 rows' dots of the <paramref name="blocks"/> octet blocks at <paramref name="chunk"/> with token j's
    /// matching blocks (its quants at <paramref name="x"/> + j·<paramref name="xBytes"/>, its scales at dx[b·<paramref name="stride"/> + j]),
    /// in groups of 8, 4, 2 and 1 tokens while the chunk is in L1.</summary>
    internal static void DotChunk(byte* chunk, int blocks, byte* x, int xBytes, int tokens, float* dx, int stride, float* acc)
    {
        var j = 0;
        for (; j + 8 <= tokens; j += 8)
            Dot8(chunk, blocks, x + (long)j * xBytes, xBytes, dx + j, stride, acc + Rows * j);
        for (; j + 4 <= tokens; j += 4)
            Dot4(chunk, blocks, x + (long)j * xBytes, xBytes, dx + j, stride, acc + Rows * j);
        for (; j + 2 <= tokens; j += 2)
            Dot2(chunk, blocks, x + (long)j * xBytes, xBytes, dx + j, stride, acc + Rows * j);
        for (; j < tokens; j++)
            Dot1(chunk, blocks, x + (long)j * xBytes, dx + j, stride, acc + Rows * j);
    }

    // Eight tokens against a chunk of an octet (a full eight-sequence step): each group of the rows is loaded once for the eight; the
    // eight integer sums stay in registers through a block, the float sums go through memory once per block.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Dot8(byte* w, int blocks, byte* x, int xBytes, float* dx, int stride, float* acc)
    {
        var ones = Vector256<short>.One;
        for (var b = 0; b < blocks; b++, w += BlockBytes, x += Q8_0Block.Bytes, dx += stride)
        {
            var q = (sbyte*)(w + Quants);
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default, i4 = default, i5 = default, i6 = default, i7 = default;
            for (var g = 0; g < 8; g++)
            {
                var s = Vector256.Load(q + 32 * g);
                var a = Vector256.Abs(s).AsByte();
                var xg = x + 4 * g;
                i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg), s)), ones);
                i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + xBytes), s)), ones);
                i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 2 * xBytes), s)), ones);
                i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 3 * xBytes), s)), ones);
                i4 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 4 * xBytes), s)), ones);
                i5 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 5 * xBytes), s)), ones);
                i6 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 6 * xBytes), s)), ones);
                i7 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(xg + 7 * xBytes), s)), ones);
            }
            var sc = Scales(w);
            SmallBatchKernels.ScaleInto(i0, i1, i2, i3, i4, i5, i6, i7, sc, dx, acc);
        }
    }

    // Four tokens against a chunk of an octet: the four float sums stay in registers.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Dot4(byte* w, int blocks, byte* x, int xBytes, float* dx, int stride, float* acc)
    {
        var ones = Vector256<short>.One;
        var f0 = Vector256.Load(acc);
        var f1 = Vector256.Load(acc + 8);
        var f2 = Vector256.Load(acc + 16);
        var f3 = Vector256.Load(acc + 24);
        for (var b = 0; b < blocks; b++, w += BlockBytes, x += Q8_0Block.Bytes, dx += stride)
        {
            var q = (sbyte*)(w + Quants);
            byte* x0 = x, x1 = x + xBytes, x2 = x + 2 * xBytes, x3 = x + 3 * xBytes;
            Vector256<int> i0 = default, i1 = default, i2 = default, i3 = default;
            for (var g = 0; g < 8; g++)
            {
                var s = Vector256.Load(q + 32 * g);
                var a = Vector256.Abs(s).AsByte();
                i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x0 + 4 * g), s)), ones);
                i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x1 + 4 * g), s)), ones);
                i2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x2 + 4 * g), s)), ones);
                i3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x3 + 4 * g), s)), ones);
            }
            var sc = Scales(w);
            f0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(i0), sc * Vector256.Create(dx[0]), f0);
            f1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(i1), sc * Vector256.Create(dx[1]), f1);
            f2 = Fma.MultiplyAdd(Vector256.ConvertToSingle(i2), sc * Vector256.Create(dx[2]), f2);
            f3 = Fma.MultiplyAdd(Vector256.ConvertToSingle(i3), sc * Vector256.Create(dx[3]), f3);
        }
        f0.Store(acc);
        f1.Store(acc + 8);
        f2.Store(acc + 16);
        f3.Store(acc + 24);
    }

    // Two tokens against a chunk of an octet: each group of the rows loaded and its |w| taken once for both.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Dot2(byte* w, int blocks, byte* x, int xBytes, float* dx, int stride, float* acc)
    {
        var ones = Vector256<short>.One;
        var f0 = Vector256.Load(acc);
        var f1 = Vector256.Load(acc + 8);
        for (var b = 0; b < blocks; b++, w += BlockBytes, x += Q8_0Block.Bytes, dx += stride)
        {
            var q = (sbyte*)(w + Quants);
            byte* x0 = x, x1 = x + xBytes;
            Vector256<int> i0 = default, i1 = default;
            for (var g = 0; g < 8; g++)
            {
                var s = Vector256.Load(q + 32 * g);
                var a = Vector256.Abs(s).AsByte();
                i0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x0 + 4 * g), s)), ones);
                i1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Sign(PanelKernels.Broadcast(x1 + 4 * g), s)), ones);
            }
            var sc = Scales(w);
            f0 = Fma.MultiplyAdd(Vector256.ConvertToSingle(i0), sc * Vector256.Create(dx[0]), f0);
            f1 = Fma.MultiplyAdd(Vector256.ConvertToSingle(i1), sc * Vector256.Create(dx[1]), f1);
        }
        f0.Store(acc);
        f1.Store(acc + 8);
    }

    // One token against a chunk of an octet (the token left over after the groups of two).
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Dot1(byte* w, int blocks, byte* x, float* dx, int stride, float* acc)
    {
        var ones = Vector256<short>.One;
        var f = Vector256.Load(acc);
        for (var b = 0; b < blocks; b++, w += BlockBytes, x += Q8_0Block.Bytes, dx += stride)
            f = Fma.MultiplyAdd(Vector256.ConvertToSingle(BlockSum(w, x, ones)), Scales(w) * Vector256.Create(dx[0]), f);
        f.Store(acc);
    }
}
