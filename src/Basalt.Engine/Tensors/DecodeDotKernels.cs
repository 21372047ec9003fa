using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Dot products of quantized weight rows with F32 activations (no activation rounding): the integer weights of each block are
/// widened to floats in registers and multiplied with x, and block scales applied per 16 or 32 weights. Vector256 paths, with the
/// decode-then-dot scalar reference beside them. Callers pass rows of exactly <c>x.Length</c> elements.</summary>
internal static class DecodeDotKernels
{
    private static bool UseV256 => Vector256.IsHardwareAccelerated;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Half(ref byte p, int offset) => HalfBits.ToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, offset)));

    // Σ q_i·x_i for 32 signed bytes against x[at..at+32], as two partial vectors: elements 0..15 and 16..31.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> First, Vector256<float> Second) Mul32(Vector256<sbyte> q, ref float x, int at)
    {
        var (s0, s1) = Vector256.Widen(q);
        var (i0, i1) = Vector256.Widen(s0);
        var (i2, i3) = Vector256.Widen(s1);
        var first = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i1), Vector256.LoadUnsafe(ref x, (nuint)at + 8),
            Vector256.ConvertToSingle(i0) * Vector256.LoadUnsafe(ref x, (nuint)at));
        var second = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(i3), Vector256.LoadUnsafe(ref x, (nuint)at + 24),
            Vector256.ConvertToSingle(i2) * Vector256.LoadUnsafe(ref x, (nuint)at + 16));
        return (first, second);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sum32(ref float x, int at) =>
        (Vector256.LoadUnsafe(ref x, (nuint)at) + Vector256.LoadUnsafe(ref x, (nuint)at + 8))
        + (Vector256.LoadUnsafe(ref x, (nuint)at + 16) + Vector256.LoadUnsafe(ref x, (nuint)at + 24));

    /// <summary>Dispatches to the Vector256 path when the hardware has one, else the scalar reference.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<float> x)
    {
        if (!UseV256)
            return DotScalar(type, w, x);
        return type switch
        {
            GgmlType.Q8_0 => DotQ8_0V256(w, x),
            GgmlType.Q4_0 => DotQ4_0V256(w, x),
            GgmlType.Q5_0 => DotQ5V256(w, x, withMin: false),
            GgmlType.Q5_1 => DotQ5V256(w, x, withMin: true),
            GgmlType.Q4_K => DotQ4_KV256(w, x, fiveBit: false),
            GgmlType.Q5_K => DotQ4_KV256(w, x, fiveBit: true),
            _ => DotQ6_KV256(w, x),
        };
    }

    /// <summary>Reference: decode each block to floats, then a scalar dot.</summary>
    internal static float DotScalar(GgmlType type, ReadOnlySpan<byte> w, ReadOnlySpan<float> x)
    {
        var bs = GgmlTypes.BlockSize(type);
        var bb = GgmlTypes.BlockBytes(type);
        Span<float> block = stackalloc float[GgmlTypes.SuperBlock];
        block = block[..bs];
        var sum = 0f;
        for (int b = 0, blocks = x.Length / bs; b < blocks; b++)
        {
            var raw = w.Slice(b * bb, bb);
            switch (type)
            {
                case GgmlType.Q8_0: Dequantize.Q8_0(raw, block); break;
                case GgmlType.Q4_0: Dequantize.Q4_0(raw, block); break;
                case GgmlType.Q5_0: Dequantize.Q5_0(raw, block); break;
                case GgmlType.Q5_1: Dequantize.Q5_1(raw, block); break;
                case GgmlType.Q4_K: Dequantize.Q4_K(raw, block); break;
                case GgmlType.Q5_K: Dequantize.Q5_K(raw, block); break;
                default: Dequantize.Q6_K(raw, block); break;
            }
            sum += FloatKernels.DotF32Scalar(block, x.Slice(b * bs, bs));
        }
        return sum;
    }

    internal static float DotQ8_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<float> x)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var acc = Vector256<float>.Zero;
        for (int b = 0, blocks = x.Length / Q8_0Block.Size; b < blocks; b++)
        {
            var o = b * Q8_0Block.Bytes;
            var (f, s) = Mul32(Vector256.LoadUnsafe(ref pw, (nuint)(o + Q8_0Block.Qs)).AsSByte(), ref px, b * Q8_0Block.Size);
            acc = Vector256.FusedMultiplyAdd(Vector256.Create(Half(ref pw, o)), f + s, acc);
        }
        return Vector256.Sum(acc);
    }

    internal static float DotQ4_0V256(ReadOnlySpan<byte> w, ReadOnlySpan<float> x)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var acc = Vector256<float>.Zero;
        for (int b = 0, blocks = x.Length / Q4_0Block.Size; b < blocks; b++)
        {
            var o = b * Q4_0Block.Bytes;
            var (f, s) = Mul32(QuantKernels.UnpackQ4_0(ref pw, o + Q4_0Block.Qs), ref px, b * Q4_0Block.Size);
            acc = Vector256.FusedMultiplyAdd(Vector256.Create(Half(ref pw, o)), f + s, acc);
        }
        return Vector256.Sum(acc);
    }

    // Q5_0 (x = d·(q − 16)) and Q5_1 (x = d·q + m): the same bit layout behind different block headers.
    internal static float DotQ5V256(ReadOnlySpan<byte> w, ReadOnlySpan<float> x, bool withMin)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        int bytes = withMin ? Q5_1Block.Bytes : Q5_0Block.Bytes, qh = withMin ? Q5_1Block.Qh : Q5_0Block.Qh, qs = withMin ? Q5_1Block.Qs : Q5_0Block.Qs;
        var offset = Vector256.Create((byte)(withMin ? 0 : 16));
        var acc = Vector256<float>.Zero;
        var mins = Vector256<float>.Zero;
        for (int b = 0, blocks = x.Length / Q5_0Block.Size; b < blocks; b++)
        {
            var o = b * bytes;
            var (f, s) = Mul32((QuantKernels.Unpack5Bit(ref pw, o + qs, o + qh) - offset).AsSByte(), ref px, b * Q5_0Block.Size);
            acc = Vector256.FusedMultiplyAdd(Vector256.Create(Half(ref pw, o)), f + s, acc);
            if (withMin)
                mins = Vector256.FusedMultiplyAdd(Vector256.Create(Half(ref pw, o + Q5_1Block.M)), Sum32(ref px, b * Q5_1Block.Size), mins);
        }
        return Vector256.Sum(acc + mins);
    }

    // Q4_K and Q5_K share scales, mins and nibble order; Q5_K adds the fifth bit from qh.
    internal static float DotQ4_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<float> x, bool fiveBit)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var blockBytes = fiveBit ? Q5KBlock.Bytes : Q4KBlock.Bytes;
        var qsAt = fiveBit ? Q5KBlock.Qs : Q4KBlock.Qs;
        var m4 = Vector256.Create((byte)0x0F);
        var acc = Vector256<float>.Zero;
        var mins = Vector256<float>.Zero;
        for (int b = 0, blocks = x.Length / Q4KBlock.Size; b < blocks; b++)
        {
            var ow = b * blockBytes;
            var packed = w.Slice(ow + Q4KBlock.Scales, Q4KBlock.ScaleBytes);
            float d = Half(ref pw, ow + Q4KBlock.D), dmin = Half(ref pw, ow + Q4KBlock.DMin);
            var qh = fiveBit ? Vector256.LoadUnsafe(ref pw, (nuint)(ow + Q5KBlock.Qh)) : default;
            var xb = b * Q4KBlock.Size;
            for (var c = 0; c < 4; c++)
            {
                Vector256<byte> lo, hi;
                if (fiveBit)
                {
                    (lo, hi) = QuantKernels.UnpackQ5K(ref pw, ow, qh, c);
                }
                else
                {
                    var q = Vector256.LoadUnsafe(ref pw, (nuint)(ow + qsAt + 32 * c));
                    lo = q & m4;
                    hi = Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m4;
                }
                Dequantize.ScaleMinK4(2 * c, packed, out var sc0, out var mn0);
                Dequantize.ScaleMinK4(2 * c + 1, packed, out var sc1, out var mn1);
                var (f0, s0) = Mul32(lo.AsSByte(), ref px, xb + 64 * c);
                var (f1, s1) = Mul32(hi.AsSByte(), ref px, xb + 64 * c + 32);
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(d * sc0), f0 + s0, acc);
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(d * sc1), f1 + s1, acc);
                mins = Vector256.FusedMultiplyAdd(Vector256.Create(dmin * mn0), Sum32(ref px, xb + 64 * c), mins);
                mins = Vector256.FusedMultiplyAdd(Vector256.Create(dmin * mn1), Sum32(ref px, xb + 64 * c + 32), mins);
            }
        }
        return Vector256.Sum(acc) - Vector256.Sum(mins);
    }

    internal static float DotQ6_KV256(ReadOnlySpan<byte> w, ReadOnlySpan<float> x)
    {
        ref var pw = ref MemoryMarshal.GetReference(w);
        ref var px = ref MemoryMarshal.GetReference(x);
        var offset = Vector256.Create((byte)32);
        var acc = Vector256<float>.Zero;
        for (int b = 0, blocks = x.Length / Q6KBlock.Size; b < blocks; b++)
        {
            var ow = b * Q6KBlock.Bytes;
            var d = Half(ref pw, ow + Q6KBlock.D);
            for (var n = 0; n < 2; n++)
            {
                var (v0, v1, v2, v3) = QuantKernels.UnpackQ6K(ref pw, ow, n);
                var xa = b * Q6KBlock.Size + 128 * n;
                var sa = ow + Q6KBlock.Scales + 8 * n;
                acc = Group(acc, (v0 - offset).AsSByte(), ref px, xa, d, ref pw, sa);
                acc = Group(acc, (v1 - offset).AsSByte(), ref px, xa + 32, d, ref pw, sa + 2);
                acc = Group(acc, (v2 - offset).AsSByte(), ref px, xa + 64, d, ref pw, sa + 4);
                acc = Group(acc, (v3 - offset).AsSByte(), ref px, xa + 96, d, ref pw, sa + 6);
            }
        }
        return Vector256.Sum(acc);

        // 32 weights spanning two 16-weight sub-blocks with their own signed scales.
        static Vector256<float> Group(Vector256<float> acc, Vector256<sbyte> q, ref float px, int at, float d, ref byte pw, int scaleAt)
        {
            var (first, second) = Mul32(q, ref px, at);
            acc = Vector256.FusedMultiplyAdd(Vector256.Create(d * (sbyte)Unsafe.Add(ref pw, scaleAt)), first, acc);
            return Vector256.FusedMultiplyAdd(Vector256.Create(d * (sbyte)Unsafe.Add(ref pw, scaleAt + 1)), second, acc);
        }
    }
}
