using System.Runtime.InteropServices;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Row-level operations on tensor data, dispatched by type: the API the model's matmul calls.
/// Supported types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K. Nothing here allocates.</summary>
public static class TensorOps
{
    /// <summary>True when this class can dequantize, quantize and dot rows of <paramref name="type"/>.</summary>
    public static bool IsSupported(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16;

    /// <summary>Bytes a row of <paramref name="n"/> elements takes (n a multiple of the type's block size).</summary>
    public static int RowSize(GgmlType type, int n) => checked((int)GgmlTypes.RowSize(type, n));

    /// <summary>Decodes one row: <paramref name="row"/> holds dst.Length elements encoded as <paramref name="type"/>.</summary>
    public static void DequantizeRow(GgmlType type, ReadOnlySpan<byte> row, Span<float> dst)
    {
        CheckRow(type, row, dst.Length);
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(row).CopyTo(dst); break;
            case GgmlType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(row);
                for (var i = 0; i < dst.Length; i++)
                    dst[i] = (float)h[i];
                break;
            case GgmlType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(row);
                for (var i = 0; i < dst.Length; i++)
                    dst[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Encodes one row of floats as <paramref name="type"/> into <paramref name="dst"/> (exactly RowSize bytes).</summary>
    public static void QuantizeRow(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (dst.Length != RowSize(type, src.Length))
            throw new ArgumentException($"A {type} row of {src.Length} elements takes {RowSize(type, src.Length)} bytes; got {dst.Length}.", nameof(dst));
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case GgmlType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(dst);
                for (var i = 0; i < src.Length; i++)
                    h[i] = (Half)src[i];
                break;
            case GgmlType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(dst);
                for (var i = 0; i < src.Length; i++)
                    b[i] = FloatToBf16(src[i]);
                break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>bfloat16 of <paramref name="f"/>, rounded to nearest even; NaN stays NaN.</summary>
    internal static ushort FloatToBf16(float f)
    {
        var u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffff) > 0x7f800000)
            return (ushort)((u >> 16) | 0x40);
        return (ushort)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
    }

    private static void CheckRow(GgmlType type, ReadOnlySpan<byte> row, int n)
    {
        if (row.Length != RowSize(type, n))
            throw new ArgumentException($"A {type} row of {n} elements takes {RowSize(type, n)} bytes; got {row.Length}.", nameof(row));
    }

    private static NotSupportedException Unsupported(GgmlType type) =>
        new($"Tensor type {GgmlTypes.Name(type)} is not supported by the engine (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K); re-quantize the model.");
}
