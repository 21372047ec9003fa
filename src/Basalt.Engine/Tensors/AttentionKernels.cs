using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Basalt.Engine.Tensors;

/// <summary>The attention's weighted sum of cached values, y += a * v, for values stored as F16 or Q8_0 (F32 uses a plain axpy):
/// Vector256 paths with the scalar reference beside each. Keys are dotted with the single-row kernels (<see cref="FloatKernels.DotF16"/>,
/// <see cref="DecodeDotKernels"/> for Q8_0).</summary>
internal static class AttentionKernels
{
    // Half to float without F16C, as in FloatKernels: exponent and mantissa shifted into place and rescaled by 2^112.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> HalfToSingle(Vector256<uint> h)
    {
        var sign = (h & Vector256.Create(0x8000u)) << 16;
        var em = h & Vector256.Create(0x7fffu);
        var scaled = (em << 13).AsSingle() * Vector256.Create(HalfBits.TwoTo112);
        var special = (em << 13) | Vector256.Create(0x7f800000u);
        var isSpecial = Vector256.GreaterThanOrEqual(em, Vector256.Create(0x7c00u));
        return (Vector256.ConditionalSelect(isSpecial, special, scaled.AsUInt32()) | sign).AsSingle();
    }

    /// <summary>y += a * v, v as IEEE halves.</summary>
    public static void AxpYF16(float a, ReadOnlySpan<ushort> v, Span<float> y)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            AxpYF16Scalar(a, v, y);
            return;
        }
        ref var pv = ref MemoryMarshal.GetReference(v);
        ref var py = ref MemoryMarshal.GetReference(y);
        var va = Vector256.Create(a);
        var i = 0;
        for (; i <= y.Length - 16; i += 16)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref pv, (nuint)i));
            Vector256.FusedMultiplyAdd(va, HalfToSingle(lo), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
            Vector256.FusedMultiplyAdd(va, HalfToSingle(hi), Vector256.LoadUnsafe(ref py, (nuint)i + 8)).StoreUnsafe(ref py, (nuint)i + 8);
        }
        for (; i < y.Length; i++)
            y[i] += a * HalfBits.ToSingle(v[i]);
    }

    internal static void AxpYF16Scalar(float a, ReadOnlySpan<ushort> v, Span<float> y)
    {
        for (var i = 0; i < y.Length; i++)
            y[i] += a * (float)BitConverter.UInt16BitsToHalf(v[i]);
    }

    /// <summary>y += a * v, v as Q8_0 blocks (y.Length a multiple of 32).</summary>
    public static void AxpYQ8_0(float a, ReadOnlySpan<byte> v, Span<float> y)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            AxpYQ8_0Scalar(a, v, y);
            return;
        }
        ref var pv = ref MemoryMarshal.GetReference(v);
        ref var py = ref MemoryMarshal.GetReference(y);
        for (int b = 0, blocks = y.Length / Q8_0Block.Size; b < blocks; b++)
        {
            var o = b * Q8_0Block.Bytes;
            var d = Vector256.Create(a * HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref pv, o))));
            var (s0, s1) = Vector256.Widen(Vector256.LoadUnsafe(ref pv, (nuint)(o + Q8_0Block.Qs)).AsSByte());
            var (i0, i1) = Vector256.Widen(s0);
            var (i2, i3) = Vector256.Widen(s1);
            var at = (nuint)(b * Q8_0Block.Size);
            Vector256.FusedMultiplyAdd(d, Vector256.ConvertToSingle(i0), Vector256.LoadUnsafe(ref py, at)).StoreUnsafe(ref py, at);
            Vector256.FusedMultiplyAdd(d, Vector256.ConvertToSingle(i1), Vector256.LoadUnsafe(ref py, at + 8)).StoreUnsafe(ref py, at + 8);
            Vector256.FusedMultiplyAdd(d, Vector256.ConvertToSingle(i2), Vector256.LoadUnsafe(ref py, at + 16)).StoreUnsafe(ref py, at + 16);
            Vector256.FusedMultiplyAdd(d, Vector256.ConvertToSingle(i3), Vector256.LoadUnsafe(ref py, at + 24)).StoreUnsafe(ref py, at + 24);
        }
    }

    internal static void AxpYQ8_0Scalar(float a, ReadOnlySpan<byte> v, Span<float> y)
    {
        for (var b = 0; b < y.Length / Q8_0Block.Size; b++)
        {
            var o = b * Q8_0Block.Bytes;
            var d = a * (float)BitConverter.UInt16BitsToHalf(MemoryMarshal.Read<ushort>(v[o..]));
            for (var j = 0; j < Q8_0Block.Size; j++)
                y[b * Q8_0Block.Size + j] += d * (sbyte)v[o + Q8_0Block.Qs + j];
        }
    }
}
