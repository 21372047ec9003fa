using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Basalt.Engine.Tensors;

/// <summary>IEEE half to float by bit manipulation: the block scales of every quantized type are halves, read once per block on the hot path.</summary>
internal static class HalfBits
{
    /// <summary>2^112 (bits 0x77800000): rescales a half's exponent (bias 15) to a float's (bias 127); exact for normals and subnormals.
    /// A constant, not a static field: kernels compiled before this class is initialized would otherwise load it through a class-init check.</summary>
    public const float TwoTo112 = 5.192296858534828E+33f;

    /// <summary>2^-24, the value of a half subnormal's unit mantissa step.</summary>
    private const float TwoToMinus24 = 5.9604644775390625E-08f;

    /// <summary>(127 - 15) &lt;&lt; 23, added to the shifted exponent and mantissa to rebias.</summary>
    private const uint ExponentRebias = 0x38000000;

    // Exact for every bit pattern, with integer ops for normals and an int-to-float conversion for subnormals: no floating-point operation
    // ever sees a denormal operand. (Multiplying the subnormal float bits em << 13 by 2^112 is exact too, but a denormal operand costs a
    // microcode assist on the Zen 3 this was measured on: Q6_K rows whose d are half subnormals decoded 2.3x slower.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort h)
    {
        var em = (uint)(h & 0x7fff);
        var bits = em < 0x0400 ? BitConverter.SingleToUInt32Bits((int)em * TwoToMinus24)
            : em < 0x7c00 ? (em << 13) + ExponentRebias
            : (em << 13) | 0x7f800000; // infinity or NaN
        return BitConverter.UInt32BitsToSingle(bits | ((uint)(h & 0x8000) << 16));
    }

    /// <summary>Eight halves (low 16 bits of each lane) as floats, exact like <see cref="ToSingle(ushort)"/> and, like it, without a
    /// denormal operand. Two or three more ops than FloatKernels.HalfToSingle (measured 4% on Q8_0 rows in L2, which keep that one);
    /// for the K-quant super-block scales, which are half subnormals as often as not in quantized files.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToSingle(Vector256<uint> h)
    {
        var em = h & Vector256.Create(0x7fffu);
        var sign = (h ^ em) << 16;
        var normal = (em << 13) + Vector256.Create(ExponentRebias);
        var subnormal = (Vector256.ConvertToSingle(em.AsInt32()) * Vector256.Create(TwoToMinus24)).AsUInt32();
        var special = (em << 13) | Vector256.Create(0x7f800000u);
        var value = Vector256.ConditionalSelect(Vector256.GreaterThan(em.AsInt32(), Vector256.Create(0x3ff)).AsUInt32(), normal, subnormal);
        return (Vector256.ConditionalSelect(Vector256.GreaterThan(em.AsInt32(), Vector256.Create(0x7bff)).AsUInt32(), special, value) | sign).AsSingle();
    }
}
