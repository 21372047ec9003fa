using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Basalt.Engine.Tensors;

/// <summary>Dot products of F32, F16 and BF16 rows with an F32 vector: Vector512, Vector256 and scalar paths, the scalar one being the reference.
/// Callers pass spans of equal element counts.</summary>
internal static class FloatKernels
{
    // ---- F32 ----

    public static float DotF32(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (Vector512.IsHardwareAccelerated && a.Length >= 2 * Vector512<float>.Count)
            return DotF32V512(a, b);
        if (Vector256.IsHardwareAccelerated && a.Length >= 2 * Vector256<float>.Count)
            return DotF32V256(a, b);
        return DotF32Scalar(a, b);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotF32V512(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref var pa = ref MemoryMarshal.GetReference(a);
        ref var pb = ref MemoryMarshal.GetReference(b);
        var n = a.Length;
        Vector512<float> s0 = default, s1 = default;
        var i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i), Vector512.LoadUnsafe(ref pb, (nuint)i), s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i + 16), Vector512.LoadUnsafe(ref pb, (nuint)i + 16), s1);
        }
        for (; i <= n - 16; i += 16)
            s0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i), Vector512.LoadUnsafe(ref pb, (nuint)i), s0);
        var sum = Vector512.Sum(s0 + s1);
        for (; i < n; i++)
            sum += Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotF32V256(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref var pa = ref MemoryMarshal.GetReference(a);
        ref var pb = ref MemoryMarshal.GetReference(b);
        var n = a.Length;
        Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
        var i = 0;
        for (; i <= n - 32; i += 32)
        {
            s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), s0);
            s1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i + 8), Vector256.LoadUnsafe(ref pb, (nuint)i + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i + 16), Vector256.LoadUnsafe(ref pb, (nuint)i + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i + 24), Vector256.LoadUnsafe(ref pb, (nuint)i + 24), s3);
        }
        for (; i <= n - 8; i += 8)
            s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), s0);
        var sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++)
            sum += Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
        return sum;
    }

    internal static float DotF32Scalar(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        for (var i = 0; i < a.Length; i++)
            sum += a[i] * b[i];
        return sum;
    }

    // ---- F16 ----

    /// <summary>Dot of <paramref name="h"/> (IEEE halves as raw bits) with <paramref name="x"/>.</summary>
    // Summation order: on AVX-512 hardware the Vector512 path, which does not sum in the order of F16Kernels' AVX2 range kernel; there
    // RowKernels.DotQ8 takes its per-row Reference path (one DotF16 per row), so a decoded range still equals row-by-row dots on every
    // machine. Without AVX-512, DotF16V256 is F16Kernels' row kernel itself.
    public static float DotF16(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x)
    {
        if (Vector512.IsHardwareAccelerated && h.Length >= Vector512<ushort>.Count)
            return DotF16V512(h, x);
        if (Vector256.IsHardwareAccelerated && h.Length >= Vector256<ushort>.Count)
            return DotF16V256(h, x);
        return DotF16Scalar(h, x);
    }

    // Half to float without F16C: shift exponent and mantissa into place and rescale by 2^112, which is exact for normals
    // and subnormals alike; infinities and NaNs get the all-ones exponent back.
    private const uint HalfMagnitudeMask = 0x7fff;
    private const uint HalfInfNan = 0x7c00;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> HalfToSingle(Vector256<uint> h)
    {
        var sign = (h & Vector256.Create(0x8000u)) << 16;
        var em = h & Vector256.Create(HalfMagnitudeMask);
        var scaled = (em << 13).AsSingle() * Vector256.Create(HalfBits.TwoTo112);
        var special = (em << 13) | Vector256.Create(0x7f800000u);
        var isSpecial = Vector256.GreaterThanOrEqual(em, Vector256.Create(HalfInfNan));
        return (Vector256.ConditionalSelect(isSpecial, special, scaled.AsUInt32()) | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> HalfToSingle(Vector512<uint> h)
    {
        var sign = (h & Vector512.Create(0x8000u)) << 16;
        var em = h & Vector512.Create(HalfMagnitudeMask);
        var scaled = (em << 13).AsSingle() * Vector512.Create(HalfBits.TwoTo112);
        var special = (em << 13) | Vector512.Create(0x7f800000u);
        var isSpecial = Vector512.GreaterThanOrEqual(em, Vector512.Create(HalfInfNan));
        return (Vector512.ConditionalSelect(isSpecial, special, scaled.AsUInt32()) | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotF16V512(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x)
    {
        ref var ph = ref MemoryMarshal.GetReference(h);
        ref var px = ref MemoryMarshal.GetReference(x);
        var n = h.Length;
        Vector512<float> s0 = default, s1 = default;
        var i = 0;
        for (; i <= n - 32; i += 32)
        {
            var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref ph, (nuint)i));
            s0 = Vector512.FusedMultiplyAdd(HalfToSingle(lo), Vector512.LoadUnsafe(ref px, (nuint)i), s0);
            s1 = Vector512.FusedMultiplyAdd(HalfToSingle(hi), Vector512.LoadUnsafe(ref px, (nuint)i + 16), s1);
        }
        var sum = Vector512.Sum(s0 + s1);
        for (; i < n; i++)
            sum += (float)BitConverter.UInt16BitsToHalf(Unsafe.Add(ref ph, i)) * Unsafe.Add(ref px, i);
        return sum;
    }

    // With AVX2 and FMA the row kernel of F16Kernels, so that a single row and a range of rows sum in the same order (on machines
    // without AVX-512, where DotF16 comes here; see DotF16).
    internal static float DotF16V256(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x) =>
        Avx2.IsSupported && Fma.IsSupported ? F16Kernels.DotRow(h, x[..h.Length]) : DotF16V256Portable(h, x);

    // Without AVX2 (Vector256 on other hardware): widen and convert with the exact path.
    private static float DotF16V256Portable(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x)
    {
        ref var ph = ref MemoryMarshal.GetReference(h);
        ref var px = ref MemoryMarshal.GetReference(x);
        var n = h.Length;
        Vector256<float> s0 = default, s1 = default;
        var i = 0;
        for (; i <= n - 16; i += 16)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref ph, (nuint)i));
            s0 = Vector256.FusedMultiplyAdd(HalfToSingle(lo), Vector256.LoadUnsafe(ref px, (nuint)i), s0);
            s1 = Vector256.FusedMultiplyAdd(HalfToSingle(hi), Vector256.LoadUnsafe(ref px, (nuint)i + 8), s1);
        }
        var sum = Vector256.Sum(s0 + s1);
        for (; i < n; i++)
            sum += (float)BitConverter.UInt16BitsToHalf(Unsafe.Add(ref ph, i)) * Unsafe.Add(ref px, i);
        return sum;
    }

    internal static float DotF16Scalar(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x)
    {
        var sum = 0f;
        for (var i = 0; i < h.Length; i++)
            sum += (float)BitConverter.UInt16BitsToHalf(h[i]) * x[i];
        return sum;
    }

    /// <summary>Converts halves to floats with the vector path (used by tests to check the conversion itself).</summary>
    internal static void HalfToSingleV256(ReadOnlySpan<ushort> h, Span<float> dst)
    {
        var i = 0;
        for (; i <= h.Length - 16; i += 16)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Create(h.Slice(i, 16)));
            HalfToSingle(lo).CopyTo(dst.Slice(i, 8));
            HalfToSingle(hi).CopyTo(dst.Slice(i + 8, 8));
        }
        for (; i < h.Length; i++)
            dst[i] = (float)BitConverter.UInt16BitsToHalf(h[i]);
    }

    // ---- BF16 ----

    /// <summary>Dot of <paramref name="b"/> (bfloat16 bits) with <paramref name="x"/>.</summary>
    public static float DotBF16(ReadOnlySpan<ushort> b, ReadOnlySpan<float> x)
    {
        if (Vector512.IsHardwareAccelerated && b.Length >= Vector512<ushort>.Count)
            return DotBF16V512(b, x);
        if (Vector256.IsHardwareAccelerated && b.Length >= Vector256<ushort>.Count)
            return DotBF16V256(b, x);
        return DotBF16Scalar(b, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotBF16V512(ReadOnlySpan<ushort> b, ReadOnlySpan<float> x)
    {
        ref var pb = ref MemoryMarshal.GetReference(b);
        ref var px = ref MemoryMarshal.GetReference(x);
        var n = b.Length;
        Vector512<float> s0 = default, s1 = default;
        var i = 0;
        for (; i <= n - 32; i += 32)
        {
            var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref pb, (nuint)i));
            s0 = Vector512.FusedMultiplyAdd((lo << 16).AsSingle(), Vector512.LoadUnsafe(ref px, (nuint)i), s0);
            s1 = Vector512.FusedMultiplyAdd((hi << 16).AsSingle(), Vector512.LoadUnsafe(ref px, (nuint)i + 16), s1);
        }
        var sum = Vector512.Sum(s0 + s1);
        for (; i < n; i++)
            sum += BitConverter.Int32BitsToSingle(Unsafe.Add(ref pb, i) << 16) * Unsafe.Add(ref px, i);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotBF16V256(ReadOnlySpan<ushort> b, ReadOnlySpan<float> x)
    {
        ref var pb = ref MemoryMarshal.GetReference(b);
        ref var px = ref MemoryMarshal.GetReference(x);
        var n = b.Length;
        Vector256<float> s0 = default, s1 = default;
        var i = 0;
        for (; i <= n - 16; i += 16)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref pb, (nuint)i));
            s0 = Vector256.FusedMultiplyAdd((lo << 16).AsSingle(), Vector256.LoadUnsafe(ref px, (nuint)i), s0);
            s1 = Vector256.FusedMultiplyAdd((hi << 16).AsSingle(), Vector256.LoadUnsafe(ref px, (nuint)i + 8), s1);
        }
        var sum = Vector256.Sum(s0 + s1);
        for (; i < n; i++)
            sum += BitConverter.Int32BitsToSingle(Unsafe.Add(ref pb, i) << 16) * Unsafe.Add(ref px, i);
        return sum;
    }

    internal static float DotBF16Scalar(ReadOnlySpan<ushort> b, ReadOnlySpan<float> x)
    {
        var sum = 0f;
        for (var i = 0; i < b.Length; i++)
            sum += BitConverter.Int32BitsToSingle(b[i] << 16) * x[i];
        return sum;
    }
}
