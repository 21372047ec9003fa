using System.Runtime.CompilerServices;

namespace Basalt.Engine.Tensors;

/// <summary>IEEE half to float by bit manipulation: the block scales of every quantized type are halves, read once per block on the hot path.</summary>
internal static class HalfBits
{
    /// <summary>2^112 (bits 0x77800000): rescales a half's exponent (bias 15) to a float's (bias 127); exact for normals and subnormals.
    /// A constant, not a static field: kernels compiled before this class is initialized would otherwise load it through a class-init check.</summary>
    public const float TwoTo112 = 5.192296858534828E+33f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToSingle(ushort h)
    {
        var em = (uint)(h & 0x7fff);
        var f = em < 0x7c00
            ? BitConverter.UInt32BitsToSingle(em << 13) * TwoTo112
            : BitConverter.UInt32BitsToSingle((em << 13) | 0x7f800000); // infinity or NaN
        return BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(f) | ((uint)(h & 0x8000) << 16));
    }
}
