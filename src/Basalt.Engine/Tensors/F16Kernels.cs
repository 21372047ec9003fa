using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Matrix kernels for F16 weights against F32 activations (and the float tile path that F32 and BF16 weights share).
/// .NET 10 has no F16C intrinsic and its Half conversions (scalar, Vector, TensorPrimitives) compile to integer code, not vcvtph2ps,
/// so halves are widened in software: sign-extend to 32 bits, shift exponent and mantissa into a float's place and drop the sign's copies.
/// That gives the value times 2^-112 for every finite half (normals and subnormals alike). Decode folds the 2^112 into the activations
/// (2^56 there, 2^56 on the sum), so a weight costs three integer operations and one FMA; infinities and NaNs, which the shift gets
/// wrong, are detected per row and send that row to the exact scalar path.
/// Prompt tiles of 6+ tokens widen their rows exactly into a per-thread panel transposed by octets of rows (rows as vector lanes) and run a
/// 16 rows x 6 tokens F32 micro-kernel over it; 4-5 tokens (and F32 weights) take 4 rows x 3 tokens (6 x 2 for pairs) over row-major rows.
/// Every path has its scalar reference (<see cref="FloatKernels.DotF16Scalar"/>, <see cref="MatMulKernels.DotRowsReference"/>) for the tests.</summary>
internal static unsafe class F16Kernels
{
    private const ushort HalfExponent = 0x7c00;

    /// <summary>Keeps a float's sign and the 15 bits of a half's exponent and mantissa after the sign-extended shift by 13.</summary>
    private const int SignExponentMantissa = unchecked((int)0x8FFFE000);

    /// <summary>The <see cref="RawHalves"/> mask.</summary>
    internal static Vector256<int> FiniteHalfMask => Vector256.Create(SignExponentMantissa);


    /// <summary>Half of the 2^112 rescale, applied to the activations; the other half is applied to each sum. Products of weights and
    /// activations stay normal floats down to 2^-70 in magnitude (smaller ones are below any sum's rounding).</summary>
    private const float TwoTo56 = 72057594037927936f;

    /// <summary>Activations at or above this magnitude (2^70) would overflow once scaled by 2^56 (times a weight up to 2^16):
    /// such vectors, and vectors holding infinities or NaNs, take the exact path.</summary>
    private const float MaxScaledActivation = 1180591620717411303424f;

    /// <summary>Activation vectors up to this many floats are scaled on the stack (16 KiB), longer ones in a pooled array.</summary>
    private const int MaxStackActivations = 4096;

    // ---- conversion ----

    /// <summary>Eight halves at <paramref name="p"/> as floats times 2^-112 (exact for finite halves; wrong for infinities and NaNs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> RawHalves(ushort* p, Vector256<int> keep) =>
        Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((short*)p), 13), keep).AsSingle();

    /// <summary>Halves to floats, exact for every input (infinities, NaNs, subnormals): 16 at a time in software, a block of 16 holding
    /// an infinity or NaN element by element.</summary>
    internal static void ToSingle(ReadOnlySpan<ushort> h, Span<float> dst)
    {
        fixed (ushort* ph = h)
        fixed (float* pd = dst)
            ToSingle(ph, pd, Math.Min(h.Length, dst.Length));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ToSingle(ushort* h, float* dst, int n)
    {
        var k = 0;
        if (Avx2.IsSupported)
        {
            var keep = Vector256.Create(SignExponentMantissa);
            var exponent = Vector256.Create(HalfExponent);
            var scale = Vector256.Create(HalfBits.TwoTo112);
            for (; k <= n - 16; k += 16)
            {
                if (Vector256.EqualsAny(Avx.LoadVector256(h + k) & exponent, exponent))
                {
                    for (var i = k; i < k + 16; i++)
                        dst[i] = (float)BitConverter.UInt16BitsToHalf(h[i]);
                    continue;
                }
                Avx.Store(dst + k, Avx.Multiply(RawHalves(h + k, keep), scale));
                Avx.Store(dst + k + 8, Avx.Multiply(RawHalves(h + k + 8, keep), scale));
            }
        }
        for (; k < n; k++)
            dst[k] = (float)BitConverter.UInt16BitsToHalf(h[k]);
    }

    // ---- decode: a range of rows against one activation vector ----

    /// <summary>True when none of the <paramref name="count"/> halves at <paramref name="p"/> is an infinity or NaN (exponent field all
    /// ones). Computed once per F16 weight matrix at load (<c>WeightMatrix.Finite</c>) so decoding can take <see cref="Dot4Finite"/>.</summary>
    internal static bool AllFinite(ushort* p, long count)
    {
        // The scan streams the whole matrix from memory once at load (2.5 GB for a 1B F16 model): large matrices are split over the
        // machine's cores in chunks of ScanChunk halves (256 KiB).
        if (count < 2 * ScanChunk || Environment.ProcessorCount < 2)
            return AllFiniteRun(p, count);
        var chunks = (int)((count + ScanChunk - 1) / ScanChunk);
        var finite = true;
        Parallel.For(0, chunks, (c, state) =>
        {
            var start = c * ScanChunk;
            if (!AllFiniteRun(p + start, Math.Min(ScanChunk, count - start)))
            {
                finite = false;
                state.Stop();
            }
        });
        return finite;
    }

    /// <summary>Halves per parallel chunk of the load-time scan.</summary>
    private const long ScanChunk = 1 << 17;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool AllFiniteRun(ushort* p, long count)
    {
        long k = 0;
        if (Avx2.IsSupported)
        {
            var exponent = Vector256.Create(HalfExponent);
            // Chunks of 4096 halves: a max of the masked exponent fields, one compare per chunk.
            while (k <= count - 64)
            {
                var end = Math.Min(count - 63, k + 4096);
                var max = Vector256<ushort>.Zero;
                for (; k < end; k += 64)
                    max = Avx2.Max(max, Avx2.Max(
                        Avx2.Max(Avx2.And(Avx.LoadVector256(p + k), exponent), Avx2.And(Avx.LoadVector256(p + k + 16), exponent)),
                        Avx2.Max(Avx2.And(Avx.LoadVector256(p + k + 32), exponent), Avx2.And(Avx.LoadVector256(p + k + 48), exponent))));
                if (Vector256.EqualsAny(max, exponent))
                    return false;
            }
        }
        for (; k < count; k++)
            if ((p[k] & HalfExponent) == HalfExponent)
                return false;
        return true;
    }

    /// <summary>y[i] = row_i · x for <paramref name="rowCount"/> F16 rows of <c>x.Length</c> halves laid back to back in <paramref name="rows"/>.
    /// <paramref name="finite"/> promises that no half of the rows is an infinity or NaN (<see cref="AllFinite"/>): the four-row kernel then
    /// skips its per-step exponent check. The sums are the same either way.</summary>
    [SkipLocalsInit]
    public static void DotRows(ReadOnlySpan<ushort> rows, int rowCount, ReadOnlySpan<float> x, Span<float> y, bool finite = false)
    {
        var n = x.Length;
        if (rows.Length < (long)rowCount * n || y.Length < rowCount)
            throw new ArgumentException($"{rowCount} F16 rows of {n} halves and {rowCount} outputs expected; got {rows.Length} halves and {y.Length} outputs.");
        if (!Avx2.IsSupported || !Fma.IsSupported || n < 16)
        {
            for (var i = 0; i < rowCount; i++)
                y[i] = FloatKernels.DotF16(rows.Slice(i * n, n), x);
            return;
        }
        float[]? rented = null;
        var scaled = n <= MaxStackActivations ? stackalloc float[n] : (rented = ArrayPool<float>.Shared.Rent(n)).AsSpan(0, n);
        if (!ScaleActivations(x, scaled))
        {
            for (var i = 0; i < rowCount; i++)
                y[i] = FloatKernels.DotF16Scalar(rows.Slice(i * n, n), x);
        }
        else
        {
            fixed (ushort* pw = rows)
            fixed (float* px = x, ps = scaled, py = y)
            {
                var i = 0;
                if (finite)
                    for (; i <= rowCount - 4; i += 4)
                        Dot4Finite(pw + (long)i * n, n, ps, px, py + i);
                for (; i <= rowCount - 4; i += 4)
                    if (!Dot4(pw + (long)i * n, n, ps, px, py + i))
                        for (var r = i; r < i + 4; r++)
                            Dot1OrExact(pw + (long)r * n, n, ps, px, py + r);
                for (; i < rowCount; i++)
                    Dot1OrExact(pw + (long)i * n, n, ps, px, py + i);
            }
        }
        if (rented is not null)
            ArrayPool<float>.Shared.Return(rented);
    }

    /// <summary>scaled = x * 2^56; false when some |x| is at least 2^70, infinite or NaN (the caller then takes the exact path).</summary>
    private static bool ScaleActivations(ReadOnlySpan<float> x, Span<float> scaled)
    {
        var k = 0;
        var max = Vector256<float>.Zero;
        var magnitude = Vector256.Create(0x7fffffff).AsSingle();
        var factor = Vector256.Create(TwoTo56);
        ref var px = ref MemoryMarshal.GetReference(x);
        ref var ps = ref MemoryMarshal.GetReference(scaled);
        for (; k <= x.Length - 8; k += 8)
        {
            var v = Vector256.LoadUnsafe(ref px, (nuint)k);
            // Integer max of the magnitudes' bits: orders finite floats, infinities and NaNs (NaN above infinity) without NaN rules.
            max = Avx2.Max((v & magnitude).AsInt32(), max.AsInt32()).AsSingle();
            (v * factor).StoreUnsafe(ref ps, (nuint)k);
        }
        var largest = Vector128.Max(max.GetLower().AsInt32(), max.GetUpper().AsInt32());
        var bits = Math.Max(Math.Max(largest[0], largest[1]), Math.Max(largest[2], largest[3]));
        for (; k < x.Length; k++)
        {
            bits = Math.Max(bits, BitConverter.SingleToInt32Bits(x[k]) & 0x7fffffff);
            scaled[k] = x[k] * TwoTo56;
        }
        return bits < BitConverter.SingleToInt32Bits(MaxScaledActivation);
    }

    // Four rows against the scaled activations: each activation vector is loaded once for four rows; two accumulators per row. The
    // largest exponent field seen is tracked on the raw halves: all ones (an infinity or NaN) makes the call return false.
    // Each row is summed in the order of Dot1 and DotRow.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Dot4(ushort* w, int n, float* scaled, float* x, float* y)
    {
        ushort* w0 = w, w1 = w + n, w2 = w + 2 * n, w3 = w + 3 * n;
        // The next four rows, 128 bytes per step as these four consume 128: decoding streams the rows from memory, and four short
        // interleaved streams train the hardware prefetcher worse than one.
        var next = (byte*)(w + 4 * n);
        Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
        var exponents = Vector256<ushort>.Zero;
        var exponent = Vector256.Create(HalfExponent);
        var keep = Vector256.Create(SignExponentMantissa);
        var k = 0;
        for (; k <= n - 16; k += 16)
        {
            var xl = Avx.LoadVector256(scaled + k);
            var xh = Avx.LoadVector256(scaled + k + 8);
            Sse.Prefetch0(next + 8 * k);
            Sse.Prefetch0(next + 8 * k + 64);
            exponents = Avx2.Max(exponents, Avx2.Max(
                Avx2.Max(Avx2.And(Avx.LoadVector256(w0 + k), exponent), Avx2.And(Avx.LoadVector256(w1 + k), exponent)),
                Avx2.Max(Avx2.And(Avx.LoadVector256(w2 + k), exponent), Avx2.And(Avx.LoadVector256(w3 + k), exponent))));
            a0 = Fma.MultiplyAdd(RawHalves(w0 + k, keep), xl, a0);
            b0 = Fma.MultiplyAdd(RawHalves(w0 + k + 8, keep), xh, b0);
            a1 = Fma.MultiplyAdd(RawHalves(w1 + k, keep), xl, a1);
            b1 = Fma.MultiplyAdd(RawHalves(w1 + k + 8, keep), xh, b1);
            a2 = Fma.MultiplyAdd(RawHalves(w2 + k, keep), xl, a2);
            b2 = Fma.MultiplyAdd(RawHalves(w2 + k + 8, keep), xh, b2);
            a3 = Fma.MultiplyAdd(RawHalves(w3 + k, keep), xl, a3);
            b3 = Fma.MultiplyAdd(RawHalves(w3 + k + 8, keep), xh, b3);
        }
        if (Vector256.EqualsAny(exponents, exponent))
            return false;
        float s0 = Vector256.Sum(a0 + b0) * TwoTo56, s1 = Vector256.Sum(a1 + b1) * TwoTo56;
        float s2 = Vector256.Sum(a2 + b2) * TwoTo56, s3 = Vector256.Sum(a3 + b3) * TwoTo56;
        for (; k < n; k++)
        {
            s0 += (float)BitConverter.UInt16BitsToHalf(w0[k]) * x[k];
            s1 += (float)BitConverter.UInt16BitsToHalf(w1[k]) * x[k];
            s2 += (float)BitConverter.UInt16BitsToHalf(w2[k]) * x[k];
            s3 += (float)BitConverter.UInt16BitsToHalf(w3[k]) * x[k];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
        return true;
    }

    // Dot4 for rows known to hold no infinity or NaN: no exponent check (8 loads + 8 ands + 7 max fewer per step of 16 per row group),
    // every row summed in exactly Dot4's order, so the result is Dot4's bit for bit.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4Finite(ushort* w, int n, float* scaled, float* x, float* y)
    {
        ushort* w0 = w, w1 = w + n, w2 = w + 2 * n, w3 = w + 3 * n;
        var next = (byte*)(w + 4 * n);
        Vector256<float> a0 = default, b0 = default, a1 = default, b1 = default, a2 = default, b2 = default, a3 = default, b3 = default;
        var keep = Vector256.Create(SignExponentMantissa);
        var k = 0;
        for (; k <= n - 16; k += 16)
        {
            var xl = Avx.LoadVector256(scaled + k);
            var xh = Avx.LoadVector256(scaled + k + 8);
            Sse.Prefetch0(next + 8 * k);
            Sse.Prefetch0(next + 8 * k + 64);
            a0 = Fma.MultiplyAdd(RawHalves(w0 + k, keep), xl, a0);
            b0 = Fma.MultiplyAdd(RawHalves(w0 + k + 8, keep), xh, b0);
            a1 = Fma.MultiplyAdd(RawHalves(w1 + k, keep), xl, a1);
            b1 = Fma.MultiplyAdd(RawHalves(w1 + k + 8, keep), xh, b1);
            a2 = Fma.MultiplyAdd(RawHalves(w2 + k, keep), xl, a2);
            b2 = Fma.MultiplyAdd(RawHalves(w2 + k + 8, keep), xh, b2);
            a3 = Fma.MultiplyAdd(RawHalves(w3 + k, keep), xl, a3);
            b3 = Fma.MultiplyAdd(RawHalves(w3 + k + 8, keep), xh, b3);
        }
        float s0 = Vector256.Sum(a0 + b0) * TwoTo56, s1 = Vector256.Sum(a1 + b1) * TwoTo56;
        float s2 = Vector256.Sum(a2 + b2) * TwoTo56, s3 = Vector256.Sum(a3 + b3) * TwoTo56;
        for (; k < n; k++)
        {
            s0 += (float)BitConverter.UInt16BitsToHalf(w0[k]) * x[k];
            s1 += (float)BitConverter.UInt16BitsToHalf(w1[k]) * x[k];
            s2 += (float)BitConverter.UInt16BitsToHalf(w2[k]) * x[k];
            s3 += (float)BitConverter.UInt16BitsToHalf(w3[k]) * x[k];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    // A row with an infinity or NaN (Dot1 says so) is the exact scalar dot; the others keep the vector sum. Kernels of several rows that
    // meet such a row redo their rows here, so only that row changes path whichever kernel, batch or range computed it.
    private static void Dot1OrExact(ushort* w, int n, float* scaled, float* x, float* y)
    {
        if (!Dot1(w, n, scaled, x, y))
            *y = FloatKernels.DotF16Scalar(new ReadOnlySpan<ushort>(w, n), new ReadOnlySpan<float>(x, n));
    }

    // One row (the last rowCount % 4), summed in the same order as each row of Dot4 and as FloatKernels.DotF16V256 (two accumulators
    // over steps of 16, then the tail), so a row's dot does not depend on which kernel or call computed it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Dot1(ushort* w, int n, float* scaled, float* x, float* y)
    {
        Vector256<float> a = default, b = default;
        var exponents = Vector256<ushort>.Zero;
        var exponent = Vector256.Create(HalfExponent);
        var keep = Vector256.Create(SignExponentMantissa);
        var k = 0;
        for (; k <= n - 16; k += 16)
        {
            exponents = Avx2.Max(exponents, Avx2.And(Avx.LoadVector256(w + k), exponent));
            a = Fma.MultiplyAdd(RawHalves(w + k, keep), Avx.LoadVector256(scaled + k), a);
            b = Fma.MultiplyAdd(RawHalves(w + k + 8, keep), Avx.LoadVector256(scaled + k + 8), b);
        }
        if (Vector256.EqualsAny(exponents, exponent))
            return false;
        var s = Vector256.Sum(a + b) * TwoTo56;
        for (; k < n; k++)
            s += (float)BitConverter.UInt16BitsToHalf(w[k]) * x[k];
        *y = s;
        return true;
    }

    /// <summary>One F16 row of <c>x.Length</c> halves dotted with <paramref name="x"/> (AVX2 and FMA), exactly as <see cref="DotRows(ReadOnlySpan{ushort}, int, ReadOnlySpan{float}, Span{float}, bool)"/>
    /// sums each row: the same products (the 2^112 applied to the weight instead of split over activation and sum) in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotRow(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x)
    {
        var n = x.Length;
        fixed (ushort* w = h)
        fixed (float* px = x)
        {
            Vector256<float> a = default, b = default;
            var exponents = Vector256<ushort>.Zero;
            var exponent = Vector256.Create(HalfExponent);
            var keep = Vector256.Create(SignExponentMantissa);
            var scale = Vector256.Create(HalfBits.TwoTo112);
            var k = 0;
            for (; k <= n - 16; k += 16)
            {
                exponents = Avx2.Max(exponents, Avx2.And(Avx.LoadVector256(w + k), exponent));
                a = Fma.MultiplyAdd(Avx.Multiply(RawHalves(w + k, keep), scale), Avx.LoadVector256(px + k), a);
                b = Fma.MultiplyAdd(Avx.Multiply(RawHalves(w + k + 8, keep), scale), Avx.LoadVector256(px + k + 8), b);
            }
            if (Vector256.EqualsAny(exponents, exponent))
                return FloatKernels.DotF16Scalar(h, x);
            var s = Vector256.Sum(a + b);
            for (; k < n; k++)
                s += (float)BitConverter.UInt16BitsToHalf(w[k]) * px[k];
            return s;
        }
    }

    // ---- tiles: a few rows against a batch of activation rows ----

    /// <summary>y[j * rowCount + i] = row_i · x_j for float weight types; arguments already checked.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        if (Avx2.IsSupported && Fma.IsSupported)
            DotRowsFma(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
        else
            for (var i = 0; i < rowCount; i++)
            {
                var row = rows.Slice(i * rowBytes, rowBytes);
                for (var j = 0; j < tokens; j++)
                    y[j * rowCount + i] = TensorOps.Dot(type, row, MemoryMarshal.Cast<byte, float>(xq.Slice(j * xBytes, xBytes)));
            }
    }

    // Per-thread panel of widened rows; grown on first use, then reused (no allocation per call).
    [ThreadStatic] private static float[]? t_panel;

    // 6+ tokens of F16 / BF16 weights: DotRowsLanes. Otherwise the rows are widened to F32 once per call (F32 rows are used in place), then
    // FMA micro-kernels of twelve accumulators run over the panel, tokens outermost so a group's activation rows stay in L1 while the rows pass.
    private static void DotRowsFma(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        var x = MemoryMarshal.Cast<byte, float>(xq);
        var xs = xBytes / 4;
        if (type == GgmlType.F16 && tokens <= MaxFewTokens && n >= 16
            && DotRowsFewTokens(MemoryMarshal.Cast<byte, ushort>(rows[..(rowCount * rowBytes)]), rowCount, x, xs, tokens, n, y))
            return;
        if (type != GgmlType.F32 && tokens >= LaneTokens)
        {
            DotRowsLanes(type, rows, rowBytes, rowCount, x, xs, tokens, n, y);
            return;
        }
        ReadOnlySpan<float> w;
        if (type == GgmlType.F32)
            w = MemoryMarshal.Cast<byte, float>(rows);
        else
        {
            var panel = PanelKernels.Scratch(ref t_panel, rowCount * n);
            for (var r = 0; r < rowCount; r++)
                TensorOps.DequantizeRow(type, rows.Slice(r * rowBytes, rowBytes), panel.AsSpan(r * n, n));
            w = panel;
        }
        fixed (float* pw = w, px = x)
        {
            var sums = stackalloc float[12];
            // Token groups of three (4 x 3 kernel), or two (6 x 2) where a group of three would leave one token alone.
            for (var j = 0; j < tokens;)
            {
                var left = tokens - j;
                var pair = left == 4 || left <= 2;
                int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1);
                float* x0 = px + (long)j * xs, x1 = px + (long)j1 * xs, x2 = px + (long)j2 * xs;
                var group = pair ? 2 : 3;
                var strip = pair ? 6 : 4;
                for (var r = 0; r < rowCount; r += strip)
                {
                    // Ragged edges reuse the last row or token and drop its results: a kernel always runs a full tile.
                    var last = rowCount - 1;
                    float* w0 = pw + (long)r * n, w1 = pw + (long)Math.Min(r + 1, last) * n;
                    float* w2 = pw + (long)Math.Min(r + 2, last) * n, w3 = pw + (long)Math.Min(r + 3, last) * n;
                    if (pair)
                        Kernel6x2(w0, w1, w2, w3, pw + (long)Math.Min(r + 4, last) * n, pw + (long)Math.Min(r + 5, last) * n, x0, x1, n, sums);
                    else
                        Kernel4x3(w0, w1, w2, w3, x0, x1, x2, n, sums);
                    for (var a = 0; a < strip && r + a < rowCount; a++)
                        for (var b = 0; b < group && j + b < tokens; b++)
                            y[(j + b) * rowCount + r + a] = sums[a * group + b];
                }
                j += group;
            }
        }
    }

    // Rows as lanes: 16 rows (two octets of 8) by 6 tokens per micro-kernel step.
    private const int LaneRows = 16;
    private const int LaneTokens = 6;

    // Per-thread transposed panel and its widening scratch; grown on first use, then reused.
    [ThreadStatic] private static float[]? t_lanes, t_wide;

    // F16 and BF16 rows widened (exactly) and transposed into octets: element k of rows 8o..8o+7 at lanes[o n 8 + 8k ..] (rows past the
    // end zero), so a weight load gives one element of 8 rows and each token's element is broadcast: twelve accumulators hold 16 rows x
    // 6 tokens with no horizontal sums, and each token's 16 results are stored as two vectors.
    private static void DotRowsLanes(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<float> x, int xs, int tokens, int n, Span<float> y)
    {
        var strips = (rowCount + LaneRows - 1) / LaneRows;
        var lanes = PanelKernels.Scratch(ref t_lanes, strips * LaneRows * n);
        var wide = PanelKernels.Scratch(ref t_wide, 8 * n);
        var n8 = n & ~7;
        fixed (float* pl = lanes, pwide = wide, px = x)
        fixed (byte* pn = rows)
        {
            var next = pn + (long)rowCount * rowBytes;
            for (var o = 0; o < strips * 2; o++)
            {
                var octet = pl + (long)o * n * 8;
                if (type == GgmlType.F16 && o * 8 + 8 <= rowCount && n8 == n && WidenOctet(pn + (long)o * 8 * rowBytes, rowBytes, n, octet))
                    continue;
                for (var a = 0; a < 8; a++)
                {
                    var r = o * 8 + a;
                    var dst = wide.AsSpan(a * n, n);
                    if (r >= rowCount)
                        dst.Clear();
                    else
                        TensorOps.DequantizeRow(type, rows.Slice(r * rowBytes, rowBytes), dst);
                }
                for (var k = 0; k < n8; k += 8)
                    PanelKernels.Transpose8x8((byte*)(pwide + k), (nint)n * sizeof(float), (byte*)(octet + 8 * k));
                for (var k = n8; k < n; k++)
                    for (var a = 0; a < 8; a++)
                        octet[8 * k + a] = pwide[a * n + k];
            }
            var results = stackalloc float[LaneRows * LaneTokens];
            var xt = stackalloc float*[LaneTokens];
            // As PanelKernels.DotRows: the next tile's rows (the bytes after these) are prefetched into L2 while this tile's kernels run.
            var calls = strips * ((tokens + LaneTokens - 1) / LaneTokens);
            var lines = (rowCount * rowBytes + 63) / 64;
            var perCall = (lines + calls - 1) / calls;
            var line = 0;
            for (int j = 0, count; j < tokens; j += count)
            {
                // Ragged edges reuse the last token and drop its results. The last 7 or 8 tokens go as 4 + 3 or 4 + 4 (16 FMAs per
                // element) rather than 6 + 1 or 6 + 2 (20).
                for (var c = 0; c < LaneTokens; c++)
                    xt[c] = px + (long)Math.Min(j + c, tokens - 1) * xs;
                count = tokens - j is 7 or 8 ? 4 : Math.Min(LaneTokens, tokens - j);
                for (var s = 0; s < strips; s++)
                {
                    var a = pl + (long)2 * s * n * 8;
                    if (count <= 4) // a last group of 1-4 tokens: 8 accumulators instead of 12 over repeated tokens
                        KernelLanes4(a, a + (long)n * 8, n, xt[0], xt[1], xt[2], xt[3], results);
                    else
                        KernelLanes(a, a + (long)n * 8, n, xt[0], xt[1], xt[2], xt[3], xt[4], xt[5], results);
                    for (var end = Math.Min(line + perCall, lines); line < end; line++)
                        Sse.Prefetch1(next + 64L * line);
                    var r0 = s * LaneRows;
                    var live = Math.Min(LaneRows, rowCount - r0);
                    for (var c = 0; c < count; c++)
                        if (live == LaneRows)
                        {
                            ref var dst = ref y[(j + c) * rowCount + r0 + LaneRows - 1];
                            ref var first = ref Unsafe.Subtract(ref dst, LaneRows - 1);
                            Avx.LoadVector256(results + c * LaneRows).StoreUnsafe(ref first);
                            Avx.LoadVector256(results + c * LaneRows + 8).StoreUnsafe(ref first, 8);
                        }
                        else
                            new ReadOnlySpan<float>(results + c * LaneRows, live).CopyTo(y.Slice((j + c) * rowCount + r0, live));
                }
            }
        }
    }

    /// <summary>Where an infinity's or NaN's all-ones half exponent lands in the float bits <see cref="RawHalves"/> makes.</summary>
    private const int RawExponentField = 0x0F800000;

    // Eight full F16 rows (n a multiple of 8) widened and transposed in registers straight into an octet of the panel: the same values
    // as ToSingle then Transpose8x8, without the 8 x n float round trip through memory. False when a row holds an infinity or NaN
    // (checked on the shifted bits as it goes); the caller then redoes the octet on the exact path.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool WidenOctet(byte* first, int rowBytes, int n, float* octet)
    {
        var keep = Vector256.Create(SignExponentMantissa);
        var field = Vector256.Create(RawExponentField);
        var scale = Vector256.Create(HalfBits.TwoTo112);
        var seen = Vector256<int>.Zero;
        short* w0 = (short*)first, w1 = (short*)(first + rowBytes), w2 = (short*)(first + 2 * rowBytes), w3 = (short*)(first + 3 * rowBytes);
        short* w4 = (short*)(first + 4 * rowBytes), w5 = (short*)(first + 5 * rowBytes), w6 = (short*)(first + 6 * rowBytes), w7 = (short*)(first + 7 * rowBytes);
        for (var k = 0; k < n; k += 8)
        {
            var b0 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w0 + k), 13), keep);
            var b1 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w1 + k), 13), keep);
            var b2 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w2 + k), 13), keep);
            var b3 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w3 + k), 13), keep);
            var b4 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w4 + k), 13), keep);
            var b5 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w5 + k), 13), keep);
            var b6 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w6 + k), 13), keep);
            var b7 = Avx2.And(Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(w7 + k), 13), keep);
            // Exponent fields only (the sign bit would make a signed max drop a negative infinity).
            seen = Avx2.Max(seen, Avx2.Max(
                Avx2.Max(Avx2.Max(b0 & field, b1 & field), Avx2.Max(b2 & field, b3 & field)),
                Avx2.Max(Avx2.Max(b4 & field, b5 & field), Avx2.Max(b6 & field, b7 & field))));
            // The same 8 x 8 transpose of 32-bit words as PanelKernels.Transpose8x8, on registers.
            var t0 = Avx2.UnpackLow(b0, b1);
            var t1 = Avx2.UnpackHigh(b0, b1);
            var t2 = Avx2.UnpackLow(b2, b3);
            var t3 = Avx2.UnpackHigh(b2, b3);
            var t4 = Avx2.UnpackLow(b4, b5);
            var t5 = Avx2.UnpackHigh(b4, b5);
            var t6 = Avx2.UnpackLow(b6, b7);
            var t7 = Avx2.UnpackHigh(b6, b7);
            var u0 = Avx2.UnpackLow(t0.AsInt64(), t2.AsInt64());
            var u1 = Avx2.UnpackHigh(t0.AsInt64(), t2.AsInt64());
            var u2 = Avx2.UnpackLow(t1.AsInt64(), t3.AsInt64());
            var u3 = Avx2.UnpackHigh(t1.AsInt64(), t3.AsInt64());
            var u4 = Avx2.UnpackLow(t4.AsInt64(), t6.AsInt64());
            var u5 = Avx2.UnpackHigh(t4.AsInt64(), t6.AsInt64());
            var u6 = Avx2.UnpackLow(t5.AsInt64(), t7.AsInt64());
            var u7 = Avx2.UnpackHigh(t5.AsInt64(), t7.AsInt64());
            var d = octet + 8 * k;
            Avx.Store(d, Avx.Multiply(Avx2.Permute2x128(u0, u4, 0x20).AsSingle(), scale));
            Avx.Store(d + 8, Avx.Multiply(Avx2.Permute2x128(u1, u5, 0x20).AsSingle(), scale));
            Avx.Store(d + 16, Avx.Multiply(Avx2.Permute2x128(u2, u6, 0x20).AsSingle(), scale));
            Avx.Store(d + 24, Avx.Multiply(Avx2.Permute2x128(u3, u7, 0x20).AsSingle(), scale));
            Avx.Store(d + 32, Avx.Multiply(Avx2.Permute2x128(u0, u4, 0x31).AsSingle(), scale));
            Avx.Store(d + 40, Avx.Multiply(Avx2.Permute2x128(u1, u5, 0x31).AsSingle(), scale));
            Avx.Store(d + 48, Avx.Multiply(Avx2.Permute2x128(u2, u6, 0x31).AsSingle(), scale));
            Avx.Store(d + 56, Avx.Multiply(Avx2.Permute2x128(u3, u7, 0x31).AsSingle(), scale));
        }
        return !Vector256.EqualsAny(seen, field);
    }

    // Sixteen rows by six tokens over the transposed panel: per element, two weight loads (rows 0-7 at a, 8-15 at b), six broadcasts and
    // twelve FMAs. results[16 c + i] = row i · token c.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void KernelLanes(float* a, float* b, int n, float* x0, float* x1, float* x2, float* x3, float* x4, float* x5, float* results)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (var k = 0; k < n; k++, a += 8, b += 8)
        {
            var wa = Avx.LoadVector256(a);
            var wb = Avx.LoadVector256(b);
            var v = Vector256.Create(x0[k]);
            c00 = Fma.MultiplyAdd(wa, v, c00);
            c01 = Fma.MultiplyAdd(wb, v, c01);
            v = Vector256.Create(x1[k]);
            c10 = Fma.MultiplyAdd(wa, v, c10);
            c11 = Fma.MultiplyAdd(wb, v, c11);
            v = Vector256.Create(x2[k]);
            c20 = Fma.MultiplyAdd(wa, v, c20);
            c21 = Fma.MultiplyAdd(wb, v, c21);
            v = Vector256.Create(x3[k]);
            c30 = Fma.MultiplyAdd(wa, v, c30);
            c31 = Fma.MultiplyAdd(wb, v, c31);
            v = Vector256.Create(x4[k]);
            c40 = Fma.MultiplyAdd(wa, v, c40);
            c41 = Fma.MultiplyAdd(wb, v, c41);
            v = Vector256.Create(x5[k]);
            c50 = Fma.MultiplyAdd(wa, v, c50);
            c51 = Fma.MultiplyAdd(wb, v, c51);
        }
        Avx.Store(results, c00); Avx.Store(results + 8, c01);
        Avx.Store(results + 16, c10); Avx.Store(results + 24, c11);
        Avx.Store(results + 32, c20); Avx.Store(results + 40, c21);
        Avx.Store(results + 48, c30); Avx.Store(results + 56, c31);
        Avx.Store(results + 64, c40); Avx.Store(results + 72, c41);
        Avx.Store(results + 80, c50); Avx.Store(results + 88, c51);
    }

    // KernelLanes for four tokens (the last group of a ragged token count): per element two weight loads, four broadcasts, eight FMAs.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void KernelLanes4(float* a, float* b, int n, float* x0, float* x1, float* x2, float* x3, float* results)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
        for (var k = 0; k < n; k++, a += 8, b += 8)
        {
            var wa = Avx.LoadVector256(a);
            var wb = Avx.LoadVector256(b);
            var v = Vector256.Create(x0[k]);
            c00 = Fma.MultiplyAdd(wa, v, c00);
            c01 = Fma.MultiplyAdd(wb, v, c01);
            v = Vector256.Create(x1[k]);
            c10 = Fma.MultiplyAdd(wa, v, c10);
            c11 = Fma.MultiplyAdd(wb, v, c11);
            v = Vector256.Create(x2[k]);
            c20 = Fma.MultiplyAdd(wa, v, c20);
            c21 = Fma.MultiplyAdd(wb, v, c21);
            v = Vector256.Create(x3[k]);
            c30 = Fma.MultiplyAdd(wa, v, c30);
            c31 = Fma.MultiplyAdd(wb, v, c31);
        }
        Avx.Store(results, c00); Avx.Store(results + 8, c01);
        Avx.Store(results + 16, c10); Avx.Store(results + 24, c11);
        Avx.Store(results + 32, c20); Avx.Store(results + 40, c21);
        Avx.Store(results + 48, c30); Avx.Store(results + 56, c31);
    }

    /// <summary>Up to this many tokens, F16 rows are dotted straight from the halves (as in decoding) instead of through a widened panel,
    /// whose cost two or three tokens do not repay.</summary>
    private const int MaxFewTokens = 3;

    // Per-thread activations scaled by 2^56 for the few-token path; grown on first use, then reused.
    [ThreadStatic] private static float[]? t_scaled;

    // Two or three tokens (or one): token pairs through Dot2x2, a last single token through Dot4/Dot1; every (row, token) is summed in the
    // order of the decode kernels, so a small batch gives each sequence exactly what decoding it alone gives. False (nothing written
    // that matters) when some activation is out of the scaled range: the caller then takes the exact panel path.
    private static bool DotRowsFewTokens(ReadOnlySpan<ushort> rows, int rowCount, ReadOnlySpan<float> x, int xs, int tokens, int n, Span<float> y)
    {
        var scaled = PanelKernels.Scratch(ref t_scaled, tokens * n, 4096);
        for (var j = 0; j < tokens; j++)
            if (!ScaleActivations(x.Slice(j * xs, n), scaled.AsSpan(j * n, n)))
                return false;
        fixed (ushort* pw = rows)
        fixed (float* px = x, ps = scaled, py = y)
        {
            var j = 0;
            for (; j + 2 <= tokens; j += 2)
            {
                float* s0 = ps + (long)j * n, s1 = s0 + n, x0 = px + (long)j * xs, x1 = x0 + xs, y0 = py + (long)j * rowCount, y1 = y0 + rowCount;
                var i = 0;
                for (; i + 2 <= rowCount; i += 2)
                    if (!Dot2x2(pw + (long)i * n, n, s0, s1, x0, x1, y0 + i, y1 + i))
                        for (var r = i; r < i + 2; r++)
                        {
                            Dot1OrExact(pw + (long)r * n, n, s0, x0, y0 + r);
                            Dot1OrExact(pw + (long)r * n, n, s1, x1, y1 + r);
                        }
                for (; i < rowCount; i++)
                {
                    Dot1OrExact(pw + (long)i * n, n, s0, x0, y0 + i);
                    Dot1OrExact(pw + (long)i * n, n, s1, x1, y1 + i);
                }
            }
            if (j < tokens)
            {
                float* s0 = ps + (long)j * n, x0 = px + (long)j * xs, y0 = py + (long)j * rowCount;
                var i = 0;
                for (; i + 4 <= rowCount; i += 4)
                    if (!Dot4(pw + (long)i * n, n, s0, x0, y0 + i))
                        for (var r = i; r < i + 4; r++)
                            Dot1OrExact(pw + (long)r * n, n, s0, x0, y0 + r);
                for (; i < rowCount; i++)
                    Dot1OrExact(pw + (long)i * n, n, s0, x0, y0 + i);
            }
        }
        return true;
    }

    // Two rows by two tokens from the halves: each widened weight vector serves both tokens, each activation vector both rows; two
    // accumulators per pair, summed as in Dot1. Results for token 0 go to y0[0..1], for token 1 to y1[0..1].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Dot2x2(ushort* w, int n, float* s0, float* s1, float* x0, float* x1, float* y0, float* y1)
    {
        ushort* w0 = w, w1 = w + n;
        var next = (byte*)(w + 2 * n); // the next two rows, 64 bytes per step as in Dot4
        Vector256<float> a00 = default, b00 = default, a01 = default, b01 = default, a10 = default, b10 = default, a11 = default, b11 = default;
        var exponents = Vector256<ushort>.Zero;
        var exponent = Vector256.Create(HalfExponent);
        var keep = Vector256.Create(SignExponentMantissa);
        var k = 0;
        for (; k <= n - 16; k += 16)
        {
            Sse.Prefetch0(next + 4 * k);
            exponents = Avx2.Max(exponents, Avx2.Max(Avx2.And(Avx.LoadVector256(w0 + k), exponent), Avx2.And(Avx.LoadVector256(w1 + k), exponent)));
            var v0 = RawHalves(w0 + k, keep);
            var v1 = RawHalves(w1 + k, keep);
            var xl = Avx.LoadVector256(s0 + k);
            a00 = Fma.MultiplyAdd(v0, xl, a00);
            a10 = Fma.MultiplyAdd(v1, xl, a10);
            xl = Avx.LoadVector256(s1 + k);
            a01 = Fma.MultiplyAdd(v0, xl, a01);
            a11 = Fma.MultiplyAdd(v1, xl, a11);
            v0 = RawHalves(w0 + k + 8, keep);
            v1 = RawHalves(w1 + k + 8, keep);
            var xh = Avx.LoadVector256(s0 + k + 8);
            b00 = Fma.MultiplyAdd(v0, xh, b00);
            b10 = Fma.MultiplyAdd(v1, xh, b10);
            xh = Avx.LoadVector256(s1 + k + 8);
            b01 = Fma.MultiplyAdd(v0, xh, b01);
            b11 = Fma.MultiplyAdd(v1, xh, b11);
        }
        if (Vector256.EqualsAny(exponents, exponent))
            return false;
        float t00 = Vector256.Sum(a00 + b00) * TwoTo56, t01 = Vector256.Sum(a01 + b01) * TwoTo56;
        float t10 = Vector256.Sum(a10 + b10) * TwoTo56, t11 = Vector256.Sum(a11 + b11) * TwoTo56;
        for (; k < n; k++)
        {
            float h0 = (float)BitConverter.UInt16BitsToHalf(w0[k]), h1 = (float)BitConverter.UInt16BitsToHalf(w1[k]);
            t00 += h0 * x0[k]; t01 += h0 * x1[k];
            t10 += h1 * x0[k]; t11 += h1 * x1[k];
        }
        y0[0] = t00; y0[1] = t10; y1[0] = t01; y1[1] = t11;
        return true;
    }

    // Four rows by three tokens: twelve accumulators; per step of 8, seven loads for twelve FMAs. sums[row * 3 + token].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x3(float* w0, float* w1, float* w2, float* w3, float* x0, float* x1, float* x2, int n, float* sums)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        var k = 0;
        for (; k <= n - 8; k += 8)
        {
            var u0 = Avx.LoadVector256(x0 + k);
            var u1 = Avx.LoadVector256(x1 + k);
            var u2 = Avx.LoadVector256(x2 + k);
            var v = Avx.LoadVector256(w0 + k);
            a00 = Fma.MultiplyAdd(v, u0, a00);
            a01 = Fma.MultiplyAdd(v, u1, a01);
            a02 = Fma.MultiplyAdd(v, u2, a02);
            v = Avx.LoadVector256(w1 + k);
            a10 = Fma.MultiplyAdd(v, u0, a10);
            a11 = Fma.MultiplyAdd(v, u1, a11);
            a12 = Fma.MultiplyAdd(v, u2, a12);
            v = Avx.LoadVector256(w2 + k);
            a20 = Fma.MultiplyAdd(v, u0, a20);
            a21 = Fma.MultiplyAdd(v, u1, a21);
            a22 = Fma.MultiplyAdd(v, u2, a22);
            v = Avx.LoadVector256(w3 + k);
            a30 = Fma.MultiplyAdd(v, u0, a30);
            a31 = Fma.MultiplyAdd(v, u1, a31);
            a32 = Fma.MultiplyAdd(v, u2, a32);
        }
        sums[0] = Vector256.Sum(a00); sums[1] = Vector256.Sum(a01); sums[2] = Vector256.Sum(a02);
        sums[3] = Vector256.Sum(a10); sums[4] = Vector256.Sum(a11); sums[5] = Vector256.Sum(a12);
        sums[6] = Vector256.Sum(a20); sums[7] = Vector256.Sum(a21); sums[8] = Vector256.Sum(a22);
        sums[9] = Vector256.Sum(a30); sums[10] = Vector256.Sum(a31); sums[11] = Vector256.Sum(a32);
        for (; k < n; k++)
        {
            sums[0] += w0[k] * x0[k]; sums[1] += w0[k] * x1[k]; sums[2] += w0[k] * x2[k];
            sums[3] += w1[k] * x0[k]; sums[4] += w1[k] * x1[k]; sums[5] += w1[k] * x2[k];
            sums[6] += w2[k] * x0[k]; sums[7] += w2[k] * x1[k]; sums[8] += w2[k] * x2[k];
            sums[9] += w3[k] * x0[k]; sums[10] += w3[k] * x1[k]; sums[11] += w3[k] * x2[k];
        }
    }

    // Six rows by two tokens: twelve accumulators; per step of 8, eight loads for twelve FMAs. sums[row * 2 + token].
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x2(float* w0, float* w1, float* w2, float* w3, float* w4, float* w5, float* x0, float* x1, int n, float* sums)
    {
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector256<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        var k = 0;
        for (; k <= n - 8; k += 8)
        {
            var u0 = Avx.LoadVector256(x0 + k);
            var u1 = Avx.LoadVector256(x1 + k);
            var v = Avx.LoadVector256(w0 + k);
            a00 = Fma.MultiplyAdd(v, u0, a00);
            a01 = Fma.MultiplyAdd(v, u1, a01);
            v = Avx.LoadVector256(w1 + k);
            a10 = Fma.MultiplyAdd(v, u0, a10);
            a11 = Fma.MultiplyAdd(v, u1, a11);
            v = Avx.LoadVector256(w2 + k);
            a20 = Fma.MultiplyAdd(v, u0, a20);
            a21 = Fma.MultiplyAdd(v, u1, a21);
            v = Avx.LoadVector256(w3 + k);
            a30 = Fma.MultiplyAdd(v, u0, a30);
            a31 = Fma.MultiplyAdd(v, u1, a31);
            v = Avx.LoadVector256(w4 + k);
            a40 = Fma.MultiplyAdd(v, u0, a40);
            a41 = Fma.MultiplyAdd(v, u1, a41);
            v = Avx.LoadVector256(w5 + k);
            a50 = Fma.MultiplyAdd(v, u0, a50);
            a51 = Fma.MultiplyAdd(v, u1, a51);
        }
        sums[0] = Vector256.Sum(a00); sums[1] = Vector256.Sum(a01); sums[2] = Vector256.Sum(a10); sums[3] = Vector256.Sum(a11);
        sums[4] = Vector256.Sum(a20); sums[5] = Vector256.Sum(a21); sums[6] = Vector256.Sum(a30); sums[7] = Vector256.Sum(a31);
        sums[8] = Vector256.Sum(a40); sums[9] = Vector256.Sum(a41); sums[10] = Vector256.Sum(a50); sums[11] = Vector256.Sum(a51);
        for (; k < n; k++)
        {
            sums[0] += w0[k] * x0[k]; sums[1] += w0[k] * x1[k]; sums[2] += w1[k] * x0[k]; sums[3] += w1[k] * x1[k];
            sums[4] += w2[k] * x0[k]; sums[5] += w2[k] * x1[k]; sums[6] += w3[k] * x0[k]; sums[7] += w3[k] * x1[k];
            sums[8] += w4[k] * x0[k]; sums[9] += w4[k] * x1[k]; sums[10] += w5[k] * x0[k]; sums[11] += w5[k] * x1[k];
        }
    }
}
