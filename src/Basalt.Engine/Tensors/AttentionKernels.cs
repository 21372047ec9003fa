using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Basalt.Engine.Tensors;

/// <summary>The attention's small matrix products over a panel of cached positions: cached keys and values decoded once into float panels
/// (<see cref="HalfRows"/>, <see cref="Q8_0Rows"/>), scores of a block of query rows against the key panel (<see cref="Scores"/>), the online
/// softmax steps of one score row (<see cref="ScaleAndMax"/>, <see cref="ExpAndSum"/>) and the probabilities times the value panel
/// (<see cref="AccumulateValues"/>). Vector256 paths with the scalar reference beside each.</summary>
internal static unsafe class AttentionKernels
{
    /// <summary>dst[r * ldd + d] = the half at src[offset + r * stride + 2 d] as a float, for r &lt; rows, d &lt; n.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void HalfRows(ReadOnlySpan<byte> src, int offset, int stride, int rows, int n, Span<float> dst, int ldd)
    {
        if (rows > 0 && (offset + (long)(rows - 1) * stride + 2L * n > src.Length || (long)(rows - 1) * ldd + n > dst.Length))
            throw new ArgumentOutOfRangeException(nameof(rows));
        if (!Avx2.IsSupported)
        {
            HalfRowsScalar(src, offset, stride, rows, n, dst, ldd);
            return;
        }
        // F16Kernels' finite conversion, with one check of the largest exponent field for the whole panel: if an infinity or NaN was
        // among the halves, the exact path redoes it. Checking every 16 halves (F16Kernels.ToSingle per row) measured 15-20% fewer
        // KV bytes per CPU-second decoding (bench attention).
        var exponentMask = Vector256.Create((ushort)0x7c00);
        var exponents = Vector256<ushort>.Zero;
        var keep = F16Kernels.FiniteHalfMask;
        var scale = Vector256.Create(HalfBits.TwoTo112);
        fixed (byte* ps = src)
        fixed (float* pd = dst)
            for (var r = 0; r < rows; r++)
            {
                var h = (ushort*)(ps + offset + (long)r * stride);
                var y = pd + (long)r * ldd;
                Prefetch((byte*)h + (long)PrefetchRows * stride, Math.Min(2 * n, 128));
                var d = 0;
                for (; d <= n - 16; d += 16)
                {
                    exponents = Vector256.Max(exponents, Vector256.Load(h + d) & exponentMask);
                    (F16Kernels.RawHalves(h + d, keep) * scale).Store(y + d);
                    (F16Kernels.RawHalves(h + d + 8, keep) * scale).Store(y + d + 8);
                }
                for (; d < n; d++)
                    y[d] = HalfBits.ToSingle(h[d]);
            }
        if (Vector256.EqualsAny(exponents, exponentMask))
            HalfRowsScalar(src, offset, stride, rows, n, dst, ldd);
    }

    internal static void HalfRowsScalar(ReadOnlySpan<byte> src, int offset, int stride, int rows, int n, Span<float> dst, int ldd)
    {
        for (var r = 0; r < rows; r++)
            for (var d = 0; d < n; d++)
                dst[r * ldd + d] = (float)BitConverter.UInt16BitsToHalf(MemoryMarshal.Read<ushort>(src[(offset + r * stride + 2 * d)..]));
    }

    /// <summary>dst[r * ldd + d] = element d of the Q8_0 blocks at src[offset + r * stride], for r &lt; rows, d &lt; n (a multiple of 32).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Q8_0Rows(ReadOnlySpan<byte> src, int offset, int stride, int rows, int n, Span<float> dst, int ldd)
    {
        var rowBytes = n / Q8_0Block.Size * Q8_0Block.Bytes;
        if (n % Q8_0Block.Size != 0)
            throw new ArgumentException($"Q8_0 rows hold whole blocks of {Q8_0Block.Size}; got {n} elements.", nameof(n));
        if (rows > 0 && (offset + (long)(rows - 1) * stride + rowBytes > src.Length || (long)(rows - 1) * ldd + n > dst.Length))
            throw new ArgumentOutOfRangeException(nameof(rows));
        if (!Vector256.IsHardwareAccelerated)
        {
            Q8_0RowsScalar(src, offset, stride, rows, n, dst, ldd);
            return;
        }
        ref var ps = ref MemoryMarshal.GetReference(src);
        ref var pd = ref MemoryMarshal.GetReference(dst);
        fixed (byte* pinned = src)
        for (var r = 0; r < rows; r++)
        {
            ref var row = ref Unsafe.Add(ref ps, offset + r * stride);
            ref var y = ref Unsafe.Add(ref pd, r * ldd);
            Prefetch(pinned + offset + (long)(r + PrefetchRows) * stride, Math.Min(rowBytes, 128));
            for (int b = 0, blocks = n / Q8_0Block.Size; b < blocks; b++)
            {
                ref var block = ref Unsafe.Add(ref row, b * Q8_0Block.Bytes);
                var d = Vector256.Create(HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(ref block)));
                ref var qs = ref Unsafe.Add(ref block, Q8_0Block.Qs);
                var at = (nuint)(b * Q8_0Block.Size);
                (d * Vector256.ConvertToSingle(Widen8(ref qs))).StoreUnsafe(ref y, at);
                (d * Vector256.ConvertToSingle(Widen8(ref Unsafe.Add(ref qs, 8)))).StoreUnsafe(ref y, at + 8);
                (d * Vector256.ConvertToSingle(Widen8(ref Unsafe.Add(ref qs, 16)))).StoreUnsafe(ref y, at + 16);
                (d * Vector256.ConvertToSingle(Widen8(ref Unsafe.Add(ref qs, 24)))).StoreUnsafe(ref y, at + 24);
            }
        }
    }

    // Cached rows ahead of the one being decoded to prefetch: a head's slice of a row is 68-128 bytes at a 200-1,000-byte stride (the
    // other heads' slices between), which the hardware prefetchers follow late; decoding reads the cache back from memory every layer.
    private const int PrefetchRows = 8;

    // Prefetches the cache lines of [p, p + bytes) (bytes <= 128) into L1. A prefetch past the end of the cache does not fault.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* p, int bytes)
    {
        if (!Sse.IsSupported)
            return;
        // Three lines cover a slice of up to 128 bytes at any alignment.
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + bytes / 2);
        Sse.Prefetch0(p + bytes - 1);
    }

    // Eight signed bytes as eight ints (one vpmovsxbd with AVX2).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen8(ref byte q)
    {
        var x = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<ulong>(ref q)).AsSByte();
        if (Avx2.IsSupported)
            return Avx2.ConvertToVector256Int32(x);
        var w = Vector128.WidenLower(x);
        return Vector256.Create(Vector128.WidenLower(w), Vector128.WidenUpper(w));
    }

    internal static void Q8_0RowsScalar(ReadOnlySpan<byte> src, int offset, int stride, int rows, int n, Span<float> dst, int ldd)
    {
        for (var r = 0; r < rows; r++)
            Dequantize.Q8_0(src.Slice(offset + r * stride, n / Q8_0Block.Size * Q8_0Block.Bytes), dst.Slice(r * ldd, n));
    }

    /// <summary>s[r * lds + i] = q[qOffsets[r] ..] · k[i * ldk ..] over <paramref name="dim"/> elements, for every query row r and key i &lt; keys.
    /// Two query rows against four keys at a time: each key vector loaded feeds two rows, each query vector four keys.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Scores(ReadOnlySpan<float> q, ReadOnlySpan<int> qOffsets, ReadOnlySpan<float> k, int ldk, int keys, int dim, Span<float> s, int lds)
    {
        var rows = qOffsets.Length;
        if (keys <= 0 || rows == 0)
            return;
        CheckRows(q, qOffsets, dim);
        if ((long)(keys - 1) * ldk + dim > k.Length || (long)(rows - 1) * lds + keys > s.Length)
            throw new ArgumentOutOfRangeException(nameof(keys));
        if (!Avx.IsSupported || dim < 8)
        {
            ScoresScalar(q, qOffsets, k, ldk, keys, dim, s, lds);
            return;
        }
        ref var pq = ref MemoryMarshal.GetReference(q);
        ref var pk = ref MemoryMarshal.GetReference(k);
        ref var ps = ref MemoryMarshal.GetReference(s);
        var r = 0;
        for (; r + 2 <= rows; r += 2)
        {
            ref var q0 = ref Unsafe.Add(ref pq, qOffsets[r]);
            ref var q1 = ref Unsafe.Add(ref pq, qOffsets[r + 1]);
            ref var s0 = ref Unsafe.Add(ref ps, r * lds);
            ref var s1 = ref Unsafe.Add(ref s0, lds);
            var i = 0;
            for (; i + 4 <= keys; i += 4)
            {
                ref var k0 = ref Unsafe.Add(ref pk, i * ldk);
                Scores2x4(ref q0, ref q1, ref k0, ldk, dim, out var t0, out var t1);
                t0.StoreUnsafe(ref s0, (nuint)i);
                t1.StoreUnsafe(ref s1, (nuint)i);
            }
            for (; i < keys; i++)
            {
                ref var ki = ref Unsafe.Add(ref pk, i * ldk);
                Unsafe.Add(ref s0, i) = Dot(ref q0, ref ki, dim);
                Unsafe.Add(ref s1, i) = Dot(ref q1, ref ki, dim);
            }
        }
        if (r < rows)
        {
            ref var q0 = ref Unsafe.Add(ref pq, qOffsets[r]);
            ref var s0 = ref Unsafe.Add(ref ps, r * lds);
            var i = 0;
            for (; i + 4 <= keys; i += 4)
                Scores1x4(ref q0, ref Unsafe.Add(ref pk, i * ldk), ldk, dim).StoreUnsafe(ref s0, (nuint)i);
            for (; i < keys; i++)
                Unsafe.Add(ref s0, i) = Dot(ref q0, ref Unsafe.Add(ref pk, i * ldk), dim);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores2x4(ref float q0, ref float q1, ref float k0, int ldk, int dim, out Vector128<float> t0, out Vector128<float> t1)
    {
        ref var k1 = ref Unsafe.Add(ref k0, ldk);
        ref var k2 = ref Unsafe.Add(ref k1, ldk);
        ref var k3 = ref Unsafe.Add(ref k2, ldk);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        var d = 0;
        for (; d <= dim - 8; d += 8)
        {
            var x0 = Vector256.LoadUnsafe(ref q0, (nuint)d);
            var x1 = Vector256.LoadUnsafe(ref q1, (nuint)d);
            var y = Vector256.LoadUnsafe(ref k0, (nuint)d);
            a0 = Vector256.FusedMultiplyAdd(x0, y, a0);
            b0 = Vector256.FusedMultiplyAdd(x1, y, b0);
            y = Vector256.LoadUnsafe(ref k1, (nuint)d);
            a1 = Vector256.FusedMultiplyAdd(x0, y, a1);
            b1 = Vector256.FusedMultiplyAdd(x1, y, b1);
            y = Vector256.LoadUnsafe(ref k2, (nuint)d);
            a2 = Vector256.FusedMultiplyAdd(x0, y, a2);
            b2 = Vector256.FusedMultiplyAdd(x1, y, b2);
            y = Vector256.LoadUnsafe(ref k3, (nuint)d);
            a3 = Vector256.FusedMultiplyAdd(x0, y, a3);
            b3 = Vector256.FusedMultiplyAdd(x1, y, b3);
        }
        t0 = QuantKernels.RowSums4(a0, a1, a2, a3);
        t1 = QuantKernels.RowSums4(b0, b1, b2, b3);
        if (d < dim)
        {
            t0 += Vector128.Create(TailDot(ref q0, ref k0, d, dim), TailDot(ref q0, ref k1, d, dim), TailDot(ref q0, ref k2, d, dim), TailDot(ref q0, ref k3, d, dim));
            t1 += Vector128.Create(TailDot(ref q1, ref k0, d, dim), TailDot(ref q1, ref k1, d, dim), TailDot(ref q1, ref k2, d, dim), TailDot(ref q1, ref k3, d, dim));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Scores1x4(ref float q0, ref float k0, int ldk, int dim)
    {
        ref var k1 = ref Unsafe.Add(ref k0, ldk);
        ref var k2 = ref Unsafe.Add(ref k1, ldk);
        ref var k3 = ref Unsafe.Add(ref k2, ldk);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        var d = 0;
        for (; d <= dim - 8; d += 8)
        {
            var x0 = Vector256.LoadUnsafe(ref q0, (nuint)d);
            a0 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref k0, (nuint)d), a0);
            a1 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref k1, (nuint)d), a1);
            a2 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref k2, (nuint)d), a2);
            a3 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref k3, (nuint)d), a3);
        }
        var t = QuantKernels.RowSums4(a0, a1, a2, a3);
        if (d < dim)
            t += Vector128.Create(TailDot(ref q0, ref k0, d, dim), TailDot(ref q0, ref k1, d, dim), TailDot(ref q0, ref k2, d, dim), TailDot(ref q0, ref k3, d, dim));
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float a, ref float b, int dim)
    {
        var acc = Vector256<float>.Zero;
        var d = 0;
        for (; d <= dim - 8; d += 8)
            acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref a, (nuint)d), Vector256.LoadUnsafe(ref b, (nuint)d), acc);
        return Vector256.Sum(acc) + TailDot(ref a, ref b, d, dim);
    }

    private static float TailDot(ref float a, ref float b, int from, int dim)
    {
        var sum = 0f;
        for (var d = from; d < dim; d++)
            sum += Unsafe.Add(ref a, d) * Unsafe.Add(ref b, d);
        return sum;
    }

    internal static void ScoresScalar(ReadOnlySpan<float> q, ReadOnlySpan<int> qOffsets, ReadOnlySpan<float> k, int ldk, int keys, int dim, Span<float> s, int lds)
    {
        for (var r = 0; r < qOffsets.Length; r++)
            for (var i = 0; i < keys; i++)
            {
                var sum = 0f;
                for (var d = 0; d < dim; d++)
                    sum += q[qOffsets[r] + d] * k[i * ldk + d];
                s[r * lds + i] = sum;
            }
    }

    /// <summary>Scales s[0, keys) by <paramref name="scale"/>, then caps it (c tanh(x / c)) when <paramref name="softcap"/> &gt; 0, and returns
    /// the largest of s[from, to) (the positions this row may see). s must hold <paramref name="keys"/> rounded up to 8 elements.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float ScaleAndMax(Span<float> s, int keys, int from, int to, float scale, float softcap)
    {
        var padded = (keys + 7) & ~7;
        if (padded > s.Length || from < 0 || to > keys)
            throw new ArgumentOutOfRangeException(nameof(keys));
        if (!Vector256.IsHardwareAccelerated || softcap > 0)
            return ScaleAndMaxScalar(s, keys, from, to, scale, softcap);
        ref var ps = ref MemoryMarshal.GetReference(s);
        var vs = Vector256.Create(scale);
        var max = Vector256.Create(float.NegativeInfinity);
        var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Vector256<int> lo = Vector256.Create(from), hi = Vector256.Create(to);
        for (var i = 0; i < padded; i += 8)
        {
            var x = Vector256.LoadUnsafe(ref ps, (nuint)i) * vs;
            x.StoreUnsafe(ref ps, (nuint)i);
            var at = index + Vector256.Create(i);
            var valid = Vector256.GreaterThanOrEqual(at, lo) & Vector256.LessThan(at, hi);
            max = Vector256.Max(max, Vector256.ConditionalSelect(valid.AsSingle(), x, Vector256.Create(float.NegativeInfinity)));
        }
        return HorizontalMax(max);
    }

    internal static float ScaleAndMaxScalar(Span<float> s, int keys, int from, int to, float scale, float softcap)
    {
        var max = float.NegativeInfinity;
        for (var i = 0; i < keys; i++)
        {
            var x = s[i] * scale;
            if (softcap > 0)
                x = softcap * MathF.Tanh(x / softcap);
            s[i] = x;
            if (i >= from && i < to)
                max = MathF.Max(max, x);
        }
        return max;
    }

    private static float HorizontalMax(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(2, 3, 0, 1)));
        m = Vector128.Max(m, Vector128.Shuffle(m, Vector128.Create(1, 0, 3, 2)));
        return m.ToScalar();
    }

    /// <summary>Replaces s[i] by exp(s[i] - max) for i in [from, to) and by 0 for the other i &lt; keys; returns the sum.
    /// s must hold <paramref name="keys"/> rounded up to 8 elements.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float ExpAndSum(Span<float> s, int keys, int from, int to, float max)
    {
        var padded = (keys + 7) & ~7;
        if (padded > s.Length || from < 0 || to > keys)
            throw new ArgumentOutOfRangeException(nameof(keys));
        if (!Vector256.IsHardwareAccelerated)
            return ExpAndSumScalar(s, keys, from, to, max);
        ref var ps = ref MemoryMarshal.GetReference(s);
        var vm = Vector256.Create(max);
        var sum = Vector256<float>.Zero;
        var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Vector256<int> lo = Vector256.Create(from), hi = Vector256.Create(to);
        for (var i = 0; i < padded; i += 8)
        {
            var at = index + Vector256.Create(i);
            var valid = Vector256.GreaterThanOrEqual(at, lo) & Vector256.LessThan(at, hi);
            // Masked lanes (other positions, or the stale tail past keys) become exact zeros whatever exp made of them.
            var e = Vector256.ConditionalSelect(valid.AsSingle(), ExpNonPositive(Vector256.LoadUnsafe(ref ps, (nuint)i) - vm), Vector256<float>.Zero);
            e.StoreUnsafe(ref ps, (nuint)i);
            sum += e;
        }
        return Vector256.Sum(sum);
    }

    // e^x for x <= 0 (a score minus its row's max): 2^n p(r) with n = round(x / ln 2), r = x - n ln 2 (ln 2 in two parts, as Cephes' expf),
    // and Cephes' degree-6 polynomial for e^r on [-ln 2 / 2, ln 2 / 2], about 1 ulp; below -87.3 (under float's normal range) 0.
    // A third of the instructions of Vector256.Exp, which widens to double.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpNonPositive(Vector256<float> x)
    {
        var n = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1.9875691500e-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = ((Vector256.ConvertToInt32(n) + Vector256.Create(127)) << 23).AsSingle();
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256.Create(-87.3f)), p * scale, Vector256<float>.Zero);
    }

    internal static float ExpAndSumScalar(Span<float> s, int keys, int from, int to, float max)
    {
        var sum = 0f;
        for (var i = 0; i < keys; i++)
        {
            s[i] = i >= from && i < to ? MathF.Exp(s[i] - max) : 0f;
            sum += s[i];
        }
        return sum;
    }

    /// <summary>o[oOffsets[r] + d] += Σ_i p[r * ldp + i] v[i * ldv + d] for every row r, i &lt; keys, d &lt; dim: probabilities times values.
    /// Two rows by 32 columns at a time, the accumulators in registers across the keys.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void AccumulateValues(ReadOnlySpan<float> p, int ldp, ReadOnlySpan<float> v, int ldv, int keys, int dim, Span<float> o, ReadOnlySpan<int> oOffsets)
    {
        var rows = oOffsets.Length;
        if (keys <= 0 || rows == 0)
            return;
        CheckRows(o, oOffsets, dim);
        if ((long)(keys - 1) * ldv + dim > v.Length || (long)(rows - 1) * ldp + keys > p.Length)
            throw new ArgumentOutOfRangeException(nameof(keys));
        if (!Vector256.IsHardwareAccelerated)
        {
            AccumulateValuesScalar(p, ldp, v, ldv, keys, dim, o, oOffsets);
            return;
        }
        ref var pp = ref MemoryMarshal.GetReference(p);
        ref var pv = ref MemoryMarshal.GetReference(v);
        ref var po = ref MemoryMarshal.GetReference(o);
        var r = 0;
        for (; r + 2 <= rows; r += 2)
            Accumulate2(ref Unsafe.Add(ref pp, r * ldp), ref Unsafe.Add(ref pp, (r + 1) * ldp), ref pv, ldv, keys, dim,
                ref Unsafe.Add(ref po, oOffsets[r]), ref Unsafe.Add(ref po, oOffsets[r + 1]));
        if (r < rows)
            Accumulate1(ref Unsafe.Add(ref pp, r * ldp), ref pv, ldv, keys, dim, ref Unsafe.Add(ref po, oOffsets[r]));
    }

    private static void Accumulate2(ref float p0, ref float p1, ref float v, int ldv, int keys, int dim, ref float o0, ref float o1)
    {
        var d = 0;
        for (; d <= dim - 32; d += 32)
        {
            var a0 = Vector256.LoadUnsafe(ref o0, (nuint)d);
            var a1 = Vector256.LoadUnsafe(ref o0, (nuint)d + 8);
            var a2 = Vector256.LoadUnsafe(ref o0, (nuint)d + 16);
            var a3 = Vector256.LoadUnsafe(ref o0, (nuint)d + 24);
            var b0 = Vector256.LoadUnsafe(ref o1, (nuint)d);
            var b1 = Vector256.LoadUnsafe(ref o1, (nuint)d + 8);
            var b2 = Vector256.LoadUnsafe(ref o1, (nuint)d + 16);
            var b3 = Vector256.LoadUnsafe(ref o1, (nuint)d + 24);
            ref var vi = ref Unsafe.Add(ref v, d);
            for (var i = 0; i < keys; i++)
            {
                var x0 = Vector256.Create(Unsafe.Add(ref p0, i));
                var x1 = Vector256.Create(Unsafe.Add(ref p1, i));
                var y = Vector256.LoadUnsafe(ref vi);
                a0 = Vector256.FusedMultiplyAdd(x0, y, a0);
                b0 = Vector256.FusedMultiplyAdd(x1, y, b0);
                y = Vector256.LoadUnsafe(ref vi, 8);
                a1 = Vector256.FusedMultiplyAdd(x0, y, a1);
                b1 = Vector256.FusedMultiplyAdd(x1, y, b1);
                y = Vector256.LoadUnsafe(ref vi, 16);
                a2 = Vector256.FusedMultiplyAdd(x0, y, a2);
                b2 = Vector256.FusedMultiplyAdd(x1, y, b2);
                y = Vector256.LoadUnsafe(ref vi, 24);
                a3 = Vector256.FusedMultiplyAdd(x0, y, a3);
                b3 = Vector256.FusedMultiplyAdd(x1, y, b3);
                vi = ref Unsafe.Add(ref vi, ldv);
            }
            a0.StoreUnsafe(ref o0, (nuint)d);
            a1.StoreUnsafe(ref o0, (nuint)d + 8);
            a2.StoreUnsafe(ref o0, (nuint)d + 16);
            a3.StoreUnsafe(ref o0, (nuint)d + 24);
            b0.StoreUnsafe(ref o1, (nuint)d);
            b1.StoreUnsafe(ref o1, (nuint)d + 8);
            b2.StoreUnsafe(ref o1, (nuint)d + 16);
            b3.StoreUnsafe(ref o1, (nuint)d + 24);
        }
        for (; d <= dim - 8; d += 8)
        {
            var a0 = Vector256.LoadUnsafe(ref o0, (nuint)d);
            var b0 = Vector256.LoadUnsafe(ref o1, (nuint)d);
            ref var vi = ref Unsafe.Add(ref v, d);
            for (var i = 0; i < keys; i++)
            {
                var y = Vector256.LoadUnsafe(ref vi);
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, i)), y, a0);
                b0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p1, i)), y, b0);
                vi = ref Unsafe.Add(ref vi, ldv);
            }
            a0.StoreUnsafe(ref o0, (nuint)d);
            b0.StoreUnsafe(ref o1, (nuint)d);
        }
        for (; d < dim; d++)
        {
            float a = Unsafe.Add(ref o0, d), b = Unsafe.Add(ref o1, d);
            for (var i = 0; i < keys; i++)
            {
                var y = Unsafe.Add(ref v, i * ldv + d);
                a += Unsafe.Add(ref p0, i) * y;
                b += Unsafe.Add(ref p1, i) * y;
            }
            Unsafe.Add(ref o0, d) = a;
            Unsafe.Add(ref o1, d) = b;
        }
    }

    private static void Accumulate1(ref float p0, ref float v, int ldv, int keys, int dim, ref float o0)
    {
        var d = 0;
        for (; d <= dim - 32; d += 32)
        {
            var a0 = Vector256.LoadUnsafe(ref o0, (nuint)d);
            var a1 = Vector256.LoadUnsafe(ref o0, (nuint)d + 8);
            var a2 = Vector256.LoadUnsafe(ref o0, (nuint)d + 16);
            var a3 = Vector256.LoadUnsafe(ref o0, (nuint)d + 24);
            ref var vi = ref Unsafe.Add(ref v, d);
            for (var i = 0; i < keys; i++)
            {
                var x0 = Vector256.Create(Unsafe.Add(ref p0, i));
                a0 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref vi), a0);
                a1 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref vi, 8), a1);
                a2 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref vi, 16), a2);
                a3 = Vector256.FusedMultiplyAdd(x0, Vector256.LoadUnsafe(ref vi, 24), a3);
                vi = ref Unsafe.Add(ref vi, ldv);
            }
            a0.StoreUnsafe(ref o0, (nuint)d);
            a1.StoreUnsafe(ref o0, (nuint)d + 8);
            a2.StoreUnsafe(ref o0, (nuint)d + 16);
            a3.StoreUnsafe(ref o0, (nuint)d + 24);
        }
        for (; d <= dim - 8; d += 8)
        {
            var a0 = Vector256.LoadUnsafe(ref o0, (nuint)d);
            ref var vi = ref Unsafe.Add(ref v, d);
            for (var i = 0; i < keys; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, i)), Vector256.LoadUnsafe(ref vi), a0);
                vi = ref Unsafe.Add(ref vi, ldv);
            }
            a0.StoreUnsafe(ref o0, (nuint)d);
        }
        for (; d < dim; d++)
        {
            var a = Unsafe.Add(ref o0, d);
            for (var i = 0; i < keys; i++)
                a += Unsafe.Add(ref p0, i) * Unsafe.Add(ref v, i * ldv + d);
            Unsafe.Add(ref o0, d) = a;
        }
    }

    internal static void AccumulateValuesScalar(ReadOnlySpan<float> p, int ldp, ReadOnlySpan<float> v, int ldv, int keys, int dim, Span<float> o, ReadOnlySpan<int> oOffsets)
    {
        for (var r = 0; r < oOffsets.Length; r++)
            for (var d = 0; d < dim; d++)
            {
                var sum = o[oOffsets[r] + d];
                for (var i = 0; i < keys; i++)
                    sum += p[r * ldp + i] * v[i * ldv + d];
                o[oOffsets[r] + d] = sum;
            }
    }

    private static void CheckRows(ReadOnlySpan<float> x, ReadOnlySpan<int> offsets, int dim)
    {
        foreach (var offset in offsets)
            if (offset < 0 || (long)offset + dim > x.Length)
                throw new ArgumentOutOfRangeException(nameof(offsets), $"A row at {offset} of {dim} elements is outside the {x.Length} elements.");
    }
}
