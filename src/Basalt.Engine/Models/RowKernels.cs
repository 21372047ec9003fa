using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Models;

/// <summary>Per-row dot products and dequantization of weight rows against float activations, dispatched by tensor type.
/// The forward pass calls only this class, so faster kernels slot in here without touching the architectures.</summary>
internal static class RowKernels
{
    public const string SupportedList = "F32, F16, BF16, Q8_0, Q4_0";

    public static bool Supports(GgmlType type) =>
        type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0;

    /// <summary>dot(row, x) where row holds x.Length elements of <paramref name="type"/>.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<float> x) => type switch
    {
        GgmlType.F32 => DotF32(MemoryMarshal.Cast<byte, float>(row), x),
        GgmlType.F16 => DotF16(MemoryMarshal.Cast<byte, Half>(row), x),
        GgmlType.BF16 => DotBF16(MemoryMarshal.Cast<byte, ushort>(row), x),
        GgmlType.Q8_0 => DotQ8_0(row, x),
        GgmlType.Q4_0 => DotQ4_0(row, x),
        _ => throw new NotSupportedException($"No dot kernel for {type}."),
    };

    /// <summary>Writes the floats of a row.</summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> row, Span<float> destination)
    {
        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(row)[..destination.Length].CopyTo(destination);
                break;
            case GgmlType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(row);
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = (float)h[i];
                break;
            case GgmlType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(row);
                for (var i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                break;
            case GgmlType.Q8_0:
                for (int blk = 0, o = 0; o < destination.Length; blk += 34, o += 32)
                {
                    var d = (float)BinaryPrimitives.ReadHalfLittleEndian(row[blk..]);
                    for (var j = 0; j < 32; j++)
                        destination[o + j] = d * (sbyte)row[blk + 2 + j];
                }
                break;
            case GgmlType.Q4_0:
                for (int blk = 0, o = 0; o < destination.Length; blk += 18, o += 32)
                {
                    var d = (float)BinaryPrimitives.ReadHalfLittleEndian(row[blk..]);
                    for (var j = 0; j < 16; j++)
                    {
                        var q = row[blk + 2 + j];
                        destination[o + j] = d * ((q & 0x0F) - 8);
                        destination[o + j + 16] = d * ((q >> 4) - 8);
                    }
                }
                break;
            default:
                throw new NotSupportedException($"No dequantize kernel for {type}.");
        }
    }

    public static float DotF32(ReadOnlySpan<float> a, ReadOnlySpan<float> x)
    {
        var n = x.Length;
        ref var pa = ref MemoryMarshal.GetReference(a);
        ref var px = ref MemoryMarshal.GetReference(x);
        var i = 0;
        float sum;
        if (Vector256.IsHardwareAccelerated && n >= 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i <= n - 32; i += 32)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref px, (nuint)i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i + 8), Vector256.LoadUnsafe(ref px, (nuint)i + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i + 16), Vector256.LoadUnsafe(ref px, (nuint)i + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i + 24), Vector256.LoadUnsafe(ref px, (nuint)i + 24), s3);
            }
            for (; i <= n - 8; i += 8)
                s0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref px, (nuint)i), s0);
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        else
            sum = 0;
        for (; i < n; i++)
            sum += Unsafe.Add(ref pa, i) * Unsafe.Add(ref px, i);
        return sum;
    }

    private static float DotF16(ReadOnlySpan<Half> a, ReadOnlySpan<float> x)
    {
        Span<float> buffer = stackalloc float[256];
        var sum = 0f;
        for (var i = 0; i < x.Length; i += buffer.Length)
        {
            var n = Math.Min(buffer.Length, x.Length - i);
            var chunk = buffer[..n];
            var src = a.Slice(i, n);
            for (var j = 0; j < n; j++)
                chunk[j] = (float)src[j];
            sum += DotF32(chunk, x.Slice(i, n));
        }
        return sum;
    }

    private static float DotBF16(ReadOnlySpan<ushort> a, ReadOnlySpan<float> x)
    {
        Span<float> buffer = stackalloc float[256];
        var sum = 0f;
        for (var i = 0; i < x.Length; i += buffer.Length)
        {
            var n = Math.Min(buffer.Length, x.Length - i);
            var chunk = buffer[..n];
            var src = a.Slice(i, n);
            var j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j <= n - 16; j += 16)
                {
                    var (lo, hi) = Vector256.Widen(Vector256.Create(src.Slice(j, 16)));
                    (lo << 16).AsSingle().CopyTo(chunk[j..]);
                    (hi << 16).AsSingle().CopyTo(chunk[(j + 8)..]);
                }
            for (; j < n; j++)
                chunk[j] = BitConverter.Int32BitsToSingle(src[j] << 16);
            sum += DotF32(chunk, x.Slice(i, n));
        }
        return sum;
    }

    private static float DotQ8_0(ReadOnlySpan<byte> row, ReadOnlySpan<float> x)
    {
        var sum = 0f;
        ref var px = ref MemoryMarshal.GetReference(x);
        for (int blk = 0, o = 0; o < x.Length; blk += 34, o += 32)
        {
            var d = (float)BinaryPrimitives.ReadHalfLittleEndian(row[blk..]);
            var q = MemoryMarshal.Cast<byte, sbyte>(row.Slice(blk + 2, 32));
            float s;
            if (Vector256.IsHardwareAccelerated)
            {
                var v = Vector256.Create(q);
                var (w0, w1) = Vector256.Widen(v);
                var (a0, a1) = Vector256.Widen(w0);
                var (a2, a3) = Vector256.Widen(w1);
                var acc = Vector256.ConvertToSingle(a0) * Vector256.LoadUnsafe(ref px, (nuint)o);
                acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a1), Vector256.LoadUnsafe(ref px, (nuint)o + 8), acc);
                acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a2), Vector256.LoadUnsafe(ref px, (nuint)o + 16), acc);
                acc = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(a3), Vector256.LoadUnsafe(ref px, (nuint)o + 24), acc);
                s = Vector256.Sum(acc);
            }
            else
            {
                s = 0;
                for (var j = 0; j < 32; j++)
                    s += q[j] * x[o + j];
            }
            sum += d * s;
        }
        return sum;
    }

    private static float DotQ4_0(ReadOnlySpan<byte> row, ReadOnlySpan<float> x)
    {
        var sum = 0f;
        for (int blk = 0, o = 0; o < x.Length; blk += 18, o += 32)
        {
            var d = (float)BinaryPrimitives.ReadHalfLittleEndian(row[blk..]);
            var s = 0f;
            for (var j = 0; j < 16; j++)
            {
                var q = row[blk + 2 + j];
                s += ((q & 0x0F) - 8) * x[o + j] + ((q >> 4) - 8) * x[o + j + 16];
            }
            sum += d * s;
        }
        return sum;
    }
}
