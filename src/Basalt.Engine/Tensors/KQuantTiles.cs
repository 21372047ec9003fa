using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Prompt tiles of the K-quants (Q4_K, Q5_K, Q6_K) against Q8_K activations, with weight rows as vector lanes: per group of eight
/// rows and one super-block, the rows' values are unpacked into a panel where each 32-byte vector holds four consecutive values of each of
/// the eight rows, and the rows' sub-block scales (and Q4_K/Q5_K mins) into int16 vectors of the same lane order. Each token then broadcasts
/// four activation bytes against a panel vector (vpmaddubsw), sums the int16 products over a run of vectors that cannot overflow int16,
/// applies the sub-block scale in the pairwise 16-bit multiply-add into int32 per row, and converts to float once per super-block.
/// Q4_K/Q5_K mins meet the activations' sums per sub-block in four multiply-adds per super-block; Q6_K's values are made signed (stored - 32)
/// and multiplied through the sign trick, so they need no offset. No horizontal reduction anywhere: the eight lanes of a token's accumulator
/// are the eight rows' outputs. Activations are in [-127, 127], as <see cref="Quantize.Q8_K"/> makes them (the int16 bounds and the sign
/// trick rely on it). The layout follows the idea of llama.cpp's interleaved "repack" of 8 rows, unpacked per call here, so the weights keep
/// their file layout and no second copy is resident.</summary>
internal static unsafe class KQuantTiles
{
    private const int Lanes = 8;
    // Tokens per micro-kernel call: four int16 sums, four int32 sums, a panel vector and a broadcast fit the 16 ymm registers.
    private const int Group = 4;
    // Tokens per accumulator pass; the float sums (Lanes per token) live on the stack.
    private const int Chunk = 64;
    private const int PanelVectors = Q8KBlock.Size / 4;

    public static bool Supports(GgmlType type) => Avx2.IsSupported && Fma.IsSupported && type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>y[j * rowCount + i] = row_i · x_j for K-quant rows; arguments already checked.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.Q4_K: DotRows<Q4K>(rows, rowBytes, rowCount, xq, xBytes, tokens, n, y); break;
            case GgmlType.Q5_K: DotRows<Q5K>(rows, rowBytes, rowCount, xq, xBytes, tokens, n, y); break;
            case GgmlType.Q6_K: DotRows<Q6K>(rows, rowBytes, rowCount, xq, xBytes, tokens, n, y); break;
            default: throw new ArgumentException($"{type} is not a K-quant.", nameof(type));
        }
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotRows<TQ>(ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
        where TQ : struct, IKQuant
    {
        if (rowCount == 0 || tokens == 0)
            return;
        var nsb = n / Q8KBlock.Size;
        byte* panel = stackalloc byte[PanelVectors * 64 + 32];
        panel = (byte*)(((nint)panel + 31) & ~(nint)31);
        short* scales = stackalloc short[16 * 16];
        short* offsets = stackalloc short[8 * 16];
        float* e = stackalloc float[2 * Lanes];
        float* acc = stackalloc float[(Chunk + Group) * Lanes];
        byte** rp = stackalloc byte*[Lanes];
        byte** xp = stackalloc byte*[Group];
        ulong* scratch = stackalloc ulong[2 * Lanes + 96];
        // Per super-block and token of the chunk, the activations' sums over each sub-block of 32 (Q4_K, Q5_K) as vphaddw leaves them in a
        // 32-byte vector: made once per chunk for every group of rows. Per-thread, grown on first use (no allocation per call).
        var sumsBytes = TQ.SignedValues ? 0 : nsb * (Chunk + Group) * 32;
        var pairSumsBuffer = sumsBytes > 0 ? PanelKernels.Scratch(ref t_pairSums, sumsBytes, 64 * 1024) : null;
        fixed (byte* pw = rows, px = xq, pairSums = pairSumsBuffer)
        fixed (float* py = y)
        {
            for (var j0 = 0; j0 < tokens; j0 += Chunk)
            {
                var count = Math.Min(Chunk, tokens - j0);
                var padded = (count + Group - 1) / Group * Group;
                if (!TQ.SignedValues)
                    for (var sb = 0; sb < nsb; sb++)
                    {
                        var src = px + (long)j0 * xBytes + (long)sb * Q8KBlock.Bytes + Q8KBlock.BSums;
                        var dst = pairSums + (long)sb * (Chunk + Group) * 32;
                        for (var j = 0; j < count; j++, src += xBytes)
                        {
                            var bsums = Avx.LoadVector256((short*)src);
                            Avx.Store((short*)(dst + 32 * j), Avx2.HorizontalAdd(bsums, bsums));
                        }
                        for (var j = count; j < padded; j++)
                            Avx.Store(dst + 32 * j, Avx.LoadVector256(dst + 32 * (count - 1)));
                    }
                for (var r0 = 0; r0 < rowCount; r0 += Lanes)
                {
                    var live = Math.Min(Lanes, rowCount - r0);
                    // A short last group repeats its last row in the spare lanes, whose sums are not stored.
                    for (var r = 0; r < Lanes; r++)
                        rp[r] = pw + (long)(r0 + Math.Min(r, live - 1)) * rowBytes;
                    for (var i = 0; i < padded * Lanes; i += Lanes)
                        Avx.Store(acc + i, Vector256<float>.Zero);
                    for (var sb = 0; sb < nsb; sb++)
                    {
                        TQ.Unpack(rp, sb, panel, scales, offsets, e, scratch);
                        var xo = (long)sb * Q8KBlock.Bytes;
                        var sums = pairSums + (long)sb * (Chunk + Group) * 32;
                        var x = px + (long)j0 * xBytes + xo;
                        var j = 0;
                        for (; j + Group <= count; j += Group, x += Group * (long)xBytes)
                            if (TQ.SignedValues)
                                KernelSigned(panel, scales, e, x, x + xBytes, x + 2 * (long)xBytes, x + 3 * (long)xBytes, acc + j * Lanes);
                            else
                                Kernel<TQ>(panel, scales, offsets, e, x, x + xBytes, x + 2 * (long)xBytes, x + 3 * (long)xBytes, acc + j * Lanes, sums + 32 * j);
                        if (j < count)
                        {
                            // A short last group repeats its last token into spare accumulator slots.
                            for (var g = 0; g < Group; g++)
                                xp[g] = px + (long)(j0 + Math.Min(j + g, count - 1)) * xBytes + xo;
                            if (TQ.SignedValues)
                                KernelSigned(panel, scales, e, xp[0], xp[1], xp[2], xp[3], acc + j * Lanes);
                            else
                                Kernel<TQ>(panel, scales, offsets, e, xp[0], xp[1], xp[2], xp[3], acc + j * Lanes, sums + 32 * j);
                        }
                    }
                    for (var j = 0; j < count; j++)
                    {
                        var dst = py + (long)(j0 + j) * rowCount + r0;
                        if (live == Lanes)
                            Avx.Store(dst, Avx.LoadVector256(acc + j * Lanes));
                        else
                            for (var r = 0; r < live; r++)
                                dst[r] = acc[j * Lanes + r];
                    }
                }
            }
        }
    }

    [ThreadStatic] private static byte[]? t_pairSums;

    // Four tokens against one Q4_K/Q5_K super-block of the panel. Each run of TQ.RunLength panel vectors sums its u8 x s8 products in int16 (the
    // run is short enough that they cannot overflow: 8 vectors of 4-bit values, 4 of 5-bit, against |x| <= 128), then one
    // vpmaddwd applies the run's sub-block scale and widens to int32.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void Kernel<TQ>(byte* panel, short* scales, short* offsets, float* e, byte* x0, byte* x1, byte* x2, byte* x3, float* acc, byte* pairSums)
        where TQ : struct, IKQuant
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        var q0 = x0 + Q8KBlock.Qs;
        var q1 = x1 + Q8KBlock.Qs;
        var q2 = x2 + Q8KBlock.Qs;
        var q3 = x3 + Q8KBlock.Qs;
        // k: the first of the four values a panel vector holds; its 32 bytes are at panel + 8k.
        for (nint k0 = 0; k0 < Q8KBlock.Size; k0 += 4 * TQ.RunLength)
        {
            var w = Avx.LoadVector256(panel + 8 * k0);
            var h0 = Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q0 + k0));
            var h1 = Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q1 + k0));
            var h2 = Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q2 + k0));
            var h3 = Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q3 + k0));
            w = Avx.LoadVector256(panel + 8 * k0 + 32);
            h0 = Avx2.Add(h0, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q0 + k0 + 4)));
            h1 = Avx2.Add(h1, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q1 + k0 + 4)));
            h2 = Avx2.Add(h2, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q2 + k0 + 4)));
            h3 = Avx2.Add(h3, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q3 + k0 + 4)));
            for (var k = k0 + 8; k < k0 + 4 * TQ.RunLength; k += 8)
            {
                w = Avx.LoadVector256(panel + 8 * k);
                h0 = Avx2.Add(h0, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q0 + k)));
                h1 = Avx2.Add(h1, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q1 + k)));
                h2 = Avx2.Add(h2, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q2 + k)));
                h3 = Avx2.Add(h3, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q3 + k)));
                w = Avx.LoadVector256(panel + 8 * k + 32);
                h0 = Avx2.Add(h0, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q0 + k + 4)));
                h1 = Avx2.Add(h1, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q1 + k + 4)));
                h2 = Avx2.Add(h2, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q2 + k + 4)));
                h3 = Avx2.Add(h3, Avx2.MultiplyAddAdjacent(w, PanelKernels.Broadcast(q3 + k + 4)));
            }
            var sc = Avx.LoadVector256(scales + k0 / (4 * TQ.RunLength * TQ.RunsPerScale) * 16);
            a0 = Avx2.Add(a0, Avx2.MultiplyAddAdjacent(h0, sc));
            a1 = Avx2.Add(a1, Avx2.MultiplyAddAdjacent(h1, sc));
            a2 = Avx2.Add(a2, Avx2.MultiplyAddAdjacent(h2, sc));
            a3 = Avx2.Add(a3, Avx2.MultiplyAddAdjacent(h3, sc));
        }
        var d = Avx.LoadVector256(e);
        var dmin = Avx.LoadVector256(e + Lanes);
        Flush<TQ>(acc, a0, d, dmin, offsets, x0, pairSums);
        Flush<TQ>(acc + Lanes, a1, d, dmin, offsets, x1, pairSums + 32);
        Flush<TQ>(acc + 2 * Lanes, a2, d, dmin, offsets, x2, pairSums + 64);
        Flush<TQ>(acc + 3 * Lanes, a3, d, dmin, offsets, x3, pairSums + 96);
    }

    // Four tokens against one Q6_K super-block of the signed panel: per group of 16 values (four panel vectors), u8 x s8 multiply-adds of
    // the magnitudes with the activations carrying the values' signs (vpsignb), summed in int16, then the group's scale in vpmaddwd.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void KernelSigned(byte* panel, short* scales, float* e, byte* x0, byte* x1, byte* x2, byte* x3, float* acc)
    {
        Vector256<int> a0 = default, a1 = default, a2 = default, a3 = default;
        var q0 = x0 + Q8KBlock.Qs;
        var q1 = x1 + Q8KBlock.Qs;
        var q2 = x2 + Q8KBlock.Qs;
        var q3 = x3 + Q8KBlock.Qs;
        // k: the first of the four values a panel vector pair holds; its magnitudes are at panel + 16k, its values 32 bytes on.
        for (nint k = 0; k < Q8KBlock.Size; k += 16)
        {
            var u = Avx.LoadVector256(panel + 16 * k);
            var v = Avx.LoadVector256((sbyte*)(panel + 16 * k + 32));
            var h0 = Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q0 + k), v));
            var h1 = Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q1 + k), v));
            var h2 = Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q2 + k), v));
            var h3 = Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q3 + k), v));
            for (nint i = 4; i < 16; i += 4)
            {
                u = Avx.LoadVector256(panel + 16 * (k + i));
                v = Avx.LoadVector256((sbyte*)(panel + 16 * (k + i) + 32));
                h0 = Avx2.Add(h0, Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q0 + k + i), v)));
                h1 = Avx2.Add(h1, Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q1 + k + i), v)));
                h2 = Avx2.Add(h2, Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q2 + k + i), v)));
                h3 = Avx2.Add(h3, Avx2.MultiplyAddAdjacent(u, Avx2.Sign(PanelKernels.Broadcast(q3 + k + i), v)));
            }
            var sc = Avx.LoadVector256(scales + k);
            a0 = Avx2.Add(a0, Avx2.MultiplyAddAdjacent(h0, sc));
            a1 = Avx2.Add(a1, Avx2.MultiplyAddAdjacent(h1, sc));
            a2 = Avx2.Add(a2, Avx2.MultiplyAddAdjacent(h2, sc));
            a3 = Avx2.Add(a3, Avx2.MultiplyAddAdjacent(h3, sc));
        }
        var d = Avx.LoadVector256(e);
        Avx.Store(acc, Fma.MultiplyAdd(Avx.ConvertToVector256Single(a0), Avx.Multiply(d, Vector256.Create(*(float*)(x0 + Q8KBlock.D))), Avx.LoadVector256(acc)));
        Avx.Store(acc + Lanes, Fma.MultiplyAdd(Avx.ConvertToVector256Single(a1), Avx.Multiply(d, Vector256.Create(*(float*)(x1 + Q8KBlock.D))), Avx.LoadVector256(acc + Lanes)));
        Avx.Store(acc + 2 * Lanes, Fma.MultiplyAdd(Avx.ConvertToVector256Single(a2), Avx.Multiply(d, Vector256.Create(*(float*)(x2 + Q8KBlock.D))), Avx.LoadVector256(acc + 2 * Lanes)));
        Avx.Store(acc + 3 * Lanes, Fma.MultiplyAdd(Avx.ConvertToVector256Single(a3), Avx.Multiply(d, Vector256.Create(*(float*)(x3 + Q8KBlock.D))), Avx.LoadVector256(acc + 3 * Lanes)));
    }

    // acc += d x d_x x sums - d_min x d_x x (mins . sub-block sums of the activations) for the eight rows of one token (x: its Q8_K
    // super-block): four multiply-adds against the pair sums.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush<TQ>(float* acc, Vector256<int> sums, Vector256<float> d, Vector256<float> dmin, short* offsets, byte* x, byte* pairSums)
        where TQ : struct, IKQuant
    {
        // vphaddw of the 16 bsums left the sub-block sums 0-3 in int16 lanes 0-3 and 4-7 in lanes 8-11.
        var s = (int*)pairSums;
        var bias = Avx2.Add(
            Avx2.Add(Bias(offsets, s), Bias(offsets + 16, s + 1)),
            Avx2.Add(Bias(offsets + 32, s + 4), Bias(offsets + 48, s + 5)));
        var dx = Vector256.Create(*(float*)(x + Q8KBlock.D));
        var a = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Avx.Multiply(d, dx), Avx.LoadVector256(acc));
        Avx.Store(acc, Fma.MultiplyAddNegated(Avx.ConvertToVector256Single(bias), Avx.Multiply(dmin, dx), a));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Bias(short* offsets, int* sums) =>
        Avx2.MultiplyAddAdjacent(Avx.LoadVector256(offsets), Avx2.BroadcastScalarToVector256(sums).AsInt16());

    /// <summary>One K-quant encoding: how its super-block unpacks into the panel, and how long an int16 run of its values may be.</summary>
    private interface IKQuant
    {
        /// <summary>Panel vectors summed in int16 before the scale is applied.</summary>
        static abstract int RunLength { get; }

        /// <summary>Runs sharing one scale vector.</summary>
        static abstract int RunsPerScale { get; }

        /// <summary>Whether the values are signed (Q6_K, stored - 32): the panel holds each vector's magnitudes, then the values (64 bytes
        /// per four values of eight rows), there are no offsets, and <see cref="KernelSigned"/> multiplies them.</summary>
        static abstract bool SignedValues { get; }

        /// <summary>Unpacks super-block <paramref name="sb"/> of the eight rows: the panel (vector v: values 4v..4v+3 of each row, row r in
        /// bytes 4r..4r+3), the scale vectors (int16 lanes 2r and 2r+1: row r's scale), the eight offset vectors (lanes 2r, 2r+1: row r's
        /// offsets of the groups of 16 that the activations' bsums 2j, 2j+1 cover), and d, d_min per row (<paramref name="e"/>[r], [8 + r]);
        /// <paramref name="scratch"/> holds 16 ulongs and 768 bytes.</summary>
        static abstract void Unpack(byte** rows, int sb, byte* panel, short* scales, short* offsets, float* e, ulong* scratch);
    }

    private struct Q4K : IKQuant
    {
        // 4-bit values against |x| <= 128: a pair sums to at most 3,840 in magnitude, eight vectors (a sub-block of 32) to 30,720.
        public static int RunLength => 8;
        public static int RunsPerScale => 1;
        public static bool SignedValues => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte** rows, int sb, byte* panel, short* scales, short* offsets, float* e, ulong* scratch) =>
            UnpackQ4Q5(rows, sb * Q4KBlock.Bytes, Q4KBlock.Qs, -1, panel, scales, offsets, e, scratch);
    }

    private struct Q5K : IKQuant
    {
        // 5-bit values: a pair sums to at most 7,936, four vectors (half a sub-block) to 31,744.
        public static int RunLength => 4;
        public static int RunsPerScale => 2;
        public static bool SignedValues => false;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte** rows, int sb, byte* panel, short* scales, short* offsets, float* e, ulong* scratch) =>
            UnpackQ4Q5(rows, sb * Q5KBlock.Bytes, Q5KBlock.Qs, Q5KBlock.Qh, panel, scales, offsets, e, scratch);
    }

    private struct Q6K : IKQuant
    {
        // Signed 6-bit values (-32..31) against |x| <= 127 through the sign trick: a pair sums to at most 8,128, four vectors (a group of 16)
        // to 32,512. Unsigned (0..63) they would overflow int16 after two vectors, so this halves the scale multiply-adds and needs no offsets.
        public static int RunLength => 4;
        public static int RunsPerScale => 1;
        public static bool SignedValues => true;

        public static void Unpack(byte** rows, int sb, byte* panel, short* scales, short* offsets, float* e, ulong* scratch)
        {
            var at = sb * Q6KBlock.Bytes;
            var d = HalfBits.ToSingle(Vector256.Create(
                (uint)*(ushort*)(rows[0] + at + Q6KBlock.D), *(ushort*)(rows[1] + at + Q6KBlock.D), *(ushort*)(rows[2] + at + Q6KBlock.D), *(ushort*)(rows[3] + at + Q6KBlock.D),
                *(ushort*)(rows[4] + at + Q6KBlock.D), *(ushort*)(rows[5] + at + Q6KBlock.D), *(ushort*)(rows[6] + at + Q6KBlock.D), *(ushort*)(rows[7] + at + Q6KBlock.D)));
            Avx.Store(e, d);
            Avx.Store(e + Lanes, d);
            var qa = (byte*)(scratch + 2 * Lanes);
            var qb = qa + 8 * 32;
            var bits = qb + 8 * 32;
            var m4 = Vector256.Create((byte)0x0F);
            var m2 = Vector256.Create((byte)0x30);
            var m32 = Vector256.Create((sbyte)32);
            for (var half = 0; half < 2; half++)
            {
                // Values 128 half + [0, 32): low nibbles of ql[0..32) with qh bits 0-1, then [32, 64): of ql[32..64) with bits 2-3,
                // [64, 96): high nibbles of ql[0..32) with bits 4-5, [96, 128): high nibbles of ql[32..64) with bits 6-7. The bytes are
                // transposed first, then split.
                var ql = at + Q6KBlock.Ql + 64 * half;
                Transpose(rows, ql, qa);
                Transpose(rows, ql + 32, qb);
                Transpose(rows, at + Q6KBlock.Qh + 32 * half, bits);
                var dst = panel + half * 32 * 64;
                for (var i = 0; i < 8 * 32; i += 32, dst += 64)
                {
                    var a = Avx.LoadVector256(qa + i);
                    var b = Avx.LoadVector256(qb + i);
                    var h = Avx.LoadVector256(bits + i).AsUInt16();
                    StoreSigned(dst, (a & m4) | (Avx2.ShiftLeftLogical(h, 4).AsByte() & m2), m32);
                    StoreSigned(dst + 8 * 64, (b & m4) | (Avx2.ShiftLeftLogical(h, 2).AsByte() & m2), m32);
                    StoreSigned(dst + 16 * 64, (Avx2.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & m4) | (h.AsByte() & m2), m32);
                    StoreSigned(dst + 24 * 64, (Avx2.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m4) | (Avx2.ShiftRightLogical(h, 2).AsByte() & m2), m32);
                }
            }

            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            static void StoreSigned(byte* dst, Vector256<byte> stored, Vector256<sbyte> m32)
            {
                var v = Avx2.Subtract(stored.AsSByte(), m32);
                Avx.Store(dst, Avx2.Abs(v));
                Avx.Store((sbyte*)(dst + 32), v);
            }

            // Sixteen int8 scales per row: scale vector g (0..15) holds row r's scale g twice.
            Vector256<int> s0, s1, s2, s3, s4, s5, s6, s7;
            for (var hi = 0; hi < 2; hi++)
            {
                s0 = Pair(rows[0] + at + Q6KBlock.Scales + 8 * hi);
                s1 = Pair(rows[1] + at + Q6KBlock.Scales + 8 * hi);
                s2 = Pair(rows[2] + at + Q6KBlock.Scales + 8 * hi);
                s3 = Pair(rows[3] + at + Q6KBlock.Scales + 8 * hi);
                s4 = Pair(rows[4] + at + Q6KBlock.Scales + 8 * hi);
                s5 = Pair(rows[5] + at + Q6KBlock.Scales + 8 * hi);
                s6 = Pair(rows[6] + at + Q6KBlock.Scales + 8 * hi);
                s7 = Pair(rows[7] + at + Q6KBlock.Scales + 8 * hi);
                Transpose(s0.AsByte(), s1.AsByte(), s2.AsByte(), s3.AsByte(), s4.AsByte(), s5.AsByte(), s6.AsByte(), s7.AsByte(), (byte*)(scales + 8 * 16 * hi));
            }
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            static Vector256<int> Pair(byte* s)
            {
                var v = Avx2.ConvertToVector256Int32((sbyte*)s);
                return (v & Vector256.Create(0xFFFF)) | Avx2.ShiftLeftLogical(v, 16);
            }

        }
    }

    // Q4_K and Q5_K (qh < 0: no fifth bit): the 128 bytes of nibbles hold, per chunk c of 32 bytes, values 64c + [0, 32) in the low nibbles and
    // 64c + [32, 64) in the high ones; Q5_K's fifth bits are bits 2c and 2c + 1 of the 32 qh bytes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackQ4Q5(byte** rows, int at, int qs, int qh, byte* panel, short* scales, short* offsets, float* e, ulong* scratch)
    {
        ulong* sc = scratch;
        ulong* mn = scratch + Lanes;
        for (var r = 0; r < Lanes; r++)
        {
            var blk = rows[r] + at;
            // The 12 bytes of 6-bit scales and mins, four at a time: scales 0-3 and mins 0-3 are the low six bits of bytes 0-3 and 4-7;
            // scales 4-7 are the low nibbles of bytes 8-11 with the top two bits of bytes 0-3 above them, mins 4-7 the high nibbles with those of 4-7.
            var p = (uint*)(blk + Q4KBlock.Scales);
            uint w0 = p[0], w1 = p[1], w2 = p[2];
            sc[r] = (w0 & 0x3F3F3F3Fu) | ((ulong)((w2 & 0x0F0F0F0Fu) | ((w0 >> 2) & 0x30303030u)) << 32);
            mn[r] = (w1 & 0x3F3F3F3Fu) | ((ulong)(((w2 >> 4) & 0x0F0F0F0Fu) | ((w1 >> 2) & 0x30303030u)) << 32);
        }
        // d and d_min, adjacent halves at the start of each super-block.
        var dd = Vector256.Create(*(uint*)(rows[0] + at), *(uint*)(rows[1] + at), *(uint*)(rows[2] + at), *(uint*)(rows[3] + at),
            *(uint*)(rows[4] + at), *(uint*)(rows[5] + at), *(uint*)(rows[6] + at), *(uint*)(rows[7] + at));
        Avx.Store(e, HalfBits.ToSingle(dd & Vector256.Create(0xFFFFu)));
        Avx.Store(e + Lanes, HalfBits.ToSingle(Vector256.ShiftRightLogical(dd, 16)));
        Transpose(Pair(sc[0]), Pair(sc[1]), Pair(sc[2]), Pair(sc[3]), Pair(sc[4]), Pair(sc[5]), Pair(sc[6]), Pair(sc[7]), (byte*)scales);
        // Offset vector i (0..3): row r's mins 2i and 2i + 1 (against the activations' sums of sub-blocks 2i, 2i + 1).
        Transpose(Wide(mn[0]), Wide(mn[1]), Wide(mn[2]), Wide(mn[3]), Wide(mn[4]), Wide(mn[5]), Wide(mn[6]), Wide(mn[7]), (byte*)offsets);
        // The nibble bytes (and Q5_K's fifth bits) are transposed first, into the slots of the low nibbles, then split in place.
        var bits = (byte*)(scratch + 2 * Lanes);
        if (qh >= 0)
            Transpose(rows, at + qh, bits);
        var m4 = Vector256.Create((byte)0x0F);
        var sixteen = Vector256.Create((byte)16);
        for (var c = 0; c < 4; c++)
        {
            var dst = panel + c * 16 * 32;
            if (qh < 0)
                TransposeNibbles(rows, at + qs + 32 * c, dst);
            else
            {
                Transpose(rows, at + qs + 32 * c, dst);
                var b0 = Vector256.Create((byte)(1 << (2 * c)));
                var b1 = Vector256.Create((byte)(2 << (2 * c)));
                for (var i = 0; i < 8 * 32; i += 32)
                {
                    var q = Avx.LoadVector256(dst + i);
                    var h = Avx.LoadVector256(bits + i);
                    Avx.Store(dst + i, (q & m4) | (Avx2.CompareEqual(h & b0, b0) & sixteen));
                    Avx.Store(dst + 8 * 32 + i, (Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4) | (Avx2.CompareEqual(h & b1, b1) & sixteen));
                }
            }
        }

        // Eight 6-bit values as int32 lanes, each holding the value in both int16 halves.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<byte> Pair(ulong bytes)
        {
            var v = Avx2.ConvertToVector256Int32(Vector128.CreateScalar(bytes).AsByte());
            return (v | Avx2.ShiftLeftLogical(v, 16)).AsByte();
        }

        // Eight bytes as int16 lanes 0-7.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector256<byte> Wide(ulong bytes) => Avx2.ConvertToVector256Int16(Vector128.CreateScalar(bytes).AsByte()).AsByte();
    }

    // The 32 bytes at offset `at` of each of the eight rows, transposed by 32-bit elements: dst + 32 i holds bytes 4i..4i+3 of each row.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(byte** rows, int at, byte* dst) =>
        Transpose(Avx.LoadVector256(rows[0] + at), Avx.LoadVector256(rows[1] + at), Avx.LoadVector256(rows[2] + at), Avx.LoadVector256(rows[3] + at),
            Avx.LoadVector256(rows[4] + at), Avx.LoadVector256(rows[5] + at), Avx.LoadVector256(rows[6] + at), Avx.LoadVector256(rows[7] + at), dst);

    // As Transpose, each output split into its low nibbles (at dst + 32 i) and high nibbles (at dst + 256 + 32 i) before it is stored.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeNibbles(byte** rows, int at, byte* dst)
    {
        var t0 = Avx2.UnpackLow(Avx.LoadVector256((int*)(rows[0] + at)), Avx.LoadVector256((int*)(rows[1] + at)));
        var t1 = Avx2.UnpackHigh(Avx.LoadVector256((int*)(rows[0] + at)), Avx.LoadVector256((int*)(rows[1] + at)));
        var t2 = Avx2.UnpackLow(Avx.LoadVector256((int*)(rows[2] + at)), Avx.LoadVector256((int*)(rows[3] + at)));
        var t3 = Avx2.UnpackHigh(Avx.LoadVector256((int*)(rows[2] + at)), Avx.LoadVector256((int*)(rows[3] + at)));
        var t4 = Avx2.UnpackLow(Avx.LoadVector256((int*)(rows[4] + at)), Avx.LoadVector256((int*)(rows[5] + at)));
        var t5 = Avx2.UnpackHigh(Avx.LoadVector256((int*)(rows[4] + at)), Avx.LoadVector256((int*)(rows[5] + at)));
        var t6 = Avx2.UnpackLow(Avx.LoadVector256((int*)(rows[6] + at)), Avx.LoadVector256((int*)(rows[7] + at)));
        var t7 = Avx2.UnpackHigh(Avx.LoadVector256((int*)(rows[6] + at)), Avx.LoadVector256((int*)(rows[7] + at)));
        var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64());
        var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64());
        var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64());
        var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64());
        var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64());
        var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64());
        var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64());
        var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64());
        Split(dst, Avx2.Permute2x128(u0, u4, 0x20));
        Split(dst + 32, Avx2.Permute2x128(u1, u5, 0x20));
        Split(dst + 64, Avx2.Permute2x128(u2, u6, 0x20));
        Split(dst + 96, Avx2.Permute2x128(u3, u7, 0x20));
        Split(dst + 128, Avx2.Permute2x128(u0, u4, 0x31));
        Split(dst + 160, Avx2.Permute2x128(u1, u5, 0x31));
        Split(dst + 192, Avx2.Permute2x128(u2, u6, 0x31));
        Split(dst + 224, Avx2.Permute2x128(u3, u7, 0x31));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Split(byte* dst, Vector256<long> q)
        {
            var m4 = Vector256.Create((byte)0x0F);
            Avx.Store(dst, q.AsByte() & m4);
            Avx.Store(dst + 8 * 32, Avx2.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4);
        }
    }

    // 8 x 8 transpose of 32-bit elements: output vector i (stored at dst + 32 i) holds element i of a0..a7 in that order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(Vector256<byte> a0, Vector256<byte> a1, Vector256<byte> a2, Vector256<byte> a3,
        Vector256<byte> a4, Vector256<byte> a5, Vector256<byte> a6, Vector256<byte> a7, byte* dst)
    {
        var t0 = Avx2.UnpackLow(a0.AsInt32(), a1.AsInt32());
        var t1 = Avx2.UnpackHigh(a0.AsInt32(), a1.AsInt32());
        var t2 = Avx2.UnpackLow(a2.AsInt32(), a3.AsInt32());
        var t3 = Avx2.UnpackHigh(a2.AsInt32(), a3.AsInt32());
        var t4 = Avx2.UnpackLow(a4.AsInt32(), a5.AsInt32());
        var t5 = Avx2.UnpackHigh(a4.AsInt32(), a5.AsInt32());
        var t6 = Avx2.UnpackLow(a6.AsInt32(), a7.AsInt32());
        var t7 = Avx2.UnpackHigh(a6.AsInt32(), a7.AsInt32());
        var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64());
        var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64());
        var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64());
        var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64());
        var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64());
        var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64());
        var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64());
        var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64());
        Avx.Store((long*)dst, Avx2.Permute2x128(u0, u4, 0x20));
        Avx.Store((long*)(dst + 32), Avx2.Permute2x128(u1, u5, 0x20));
        Avx.Store((long*)(dst + 64), Avx2.Permute2x128(u2, u6, 0x20));
        Avx.Store((long*)(dst + 96), Avx2.Permute2x128(u3, u7, 0x20));
        Avx.Store((long*)(dst + 128), Avx2.Permute2x128(u0, u4, 0x31));
        Avx.Store((long*)(dst + 160), Avx2.Permute2x128(u1, u5, 0x31));
        Avx.Store((long*)(dst + 192), Avx2.Permute2x128(u2, u6, 0x31));
        Avx.Store((long*)(dst + 224), Avx2.Permute2x128(u3, u7, 0x31));
    }
}
