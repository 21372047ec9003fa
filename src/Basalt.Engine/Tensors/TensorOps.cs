using System.Runtime.InteropServices;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Row-level operations on tensor data, dispatched by type: the API a model's matmul calls.
/// Supported weight types: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K. Nothing here allocates.</summary>
/// <remarks>
/// Two ways to take a dot product of a weight row with an activation vector x of n floats:
/// <list type="bullet">
/// <item><see cref="Dot"/>: exact up to float rounding; quantized weights are widened to floats in registers, which is slower
/// than <see cref="DotQ8"/> (use it where activations must not be rounded).</item>
/// <item><see cref="QuantizeActivations"/> once per x into a buffer of <see cref="ActivationSize"/> bytes, then <see cref="DotQ8"/> per row:
/// integer multiply-adds against x quantized to 8 bits (Q8_0 blocks for Q8_0/Q4_0/Q5_0/Q5_1, Q8_K super-blocks for the K-quants). This is the fast
/// path; it adds the activation rounding error (about 0.4% of each block's largest |x|). For F32/F16/BF16 weights the "quantized"
/// activations are the floats themselves and the result equals <see cref="Dot"/>.</item>
/// </list>
/// Rows are in the type's encoding: <c>RowSize(type, n)</c> bytes for n elements, n a multiple of the type's block size.
/// </remarks>
public static partial class TensorOps
{
    /// <summary>True when this class can decode, encode and dot rows of <paramref name="type"/>.</summary>
    public static bool IsSupported(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>Weights per block of <paramref name="type"/>: a row length must be a multiple of it.</summary>
    public static int BlockSize(GgmlType type) => GgmlTypes.BlockSize(type);

    /// <summary>Bytes a row of <paramref name="n"/> elements takes (n a multiple of the type's block size).</summary>
    public static int RowSize(GgmlType type, int n) => checked((int)GgmlTypes.RowSize(type, n));

    /// <summary>Decodes one row: <paramref name="row"/> holds <c>dst.Length</c> elements encoded as <paramref name="type"/>.</summary>
    public static void DequantizeRow(GgmlType type, ReadOnlySpan<byte> row, Span<float> dst)
    {
        CheckRow(type, row, dst.Length);
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(row).CopyTo(dst); break;
            case GgmlType.F16: F16Kernels.ToSingle(MemoryMarshal.Cast<byte, ushort>(row), dst); break;
            case GgmlType.BF16: Dequantize.BF16(row, dst); break;
            case GgmlType.Q8_0: Dequantize.Q8_0(row, dst); break;
            case GgmlType.Q4_0: Dequantize.Q4_0(row, dst); break;
            case GgmlType.Q5_0: Dequantize.Q5_0(row, dst); break;
            case GgmlType.Q5_1: Dequantize.Q5_1(row, dst); break;
            case GgmlType.Q4_K: Dequantize.Q4_K(row, dst); break;
            case GgmlType.Q5_K: Dequantize.Q5_K(row, dst); break;
            case GgmlType.Q6_K: Dequantize.Q6_K(row, dst); break;
            default: throw Unsupported(type);
        }
    }

    /// <summary>Encodes one row of floats as <paramref name="type"/> into <paramref name="dst"/> (exactly <c>RowSize(type, src.Length)</c> bytes).</summary>
    public static void QuantizeRow(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (!IsSupported(type))
            throw Unsupported(type);
        if (dst.Length != RowSize(type, src.Length))
            throw new ArgumentException($"A {type} row of {src.Length} elements takes {RowSize(type, src.Length)} bytes; got {dst.Length}.", nameof(dst));
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case GgmlType.F16: Quantize.F16(src, dst); break;
            case GgmlType.BF16: Quantize.BF16(src, dst); break;
            case GgmlType.Q8_0: Quantize.Q8_0(src, dst); break;
            case GgmlType.Q4_0: Quantize.Q4_0(src, dst); break;
            case GgmlType.Q5_0: Quantize.Q5_0(src, dst); break;
            case GgmlType.Q5_1: Quantize.Q5_1(src, dst); break;
            case GgmlType.Q4_K: Quantize.Q4_K(src, dst); break;
            case GgmlType.Q5_K: Quantize.Q5_K(src, dst); break;
            case GgmlType.Q6_K: Quantize.Q6_K(src, dst); break;
        }
    }

    /// <summary>Dot product of one weight row (<c>x.Length</c> elements encoded as <paramref name="type"/>) with <paramref name="x"/>.</summary>
    public static float Dot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<float> x)
    {
        CheckRow(type, row, x.Length);
        switch (type)
        {
            case GgmlType.F32: return FloatKernels.DotF32(MemoryMarshal.Cast<byte, float>(row), x);
            case GgmlType.F16: return FloatKernels.DotF16(MemoryMarshal.Cast<byte, ushort>(row), x);
            case GgmlType.BF16: return FloatKernels.DotBF16(MemoryMarshal.Cast<byte, ushort>(row), x);
            case GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K:
                return DecodeDotKernels.Dot(type, row, x);
            default: throw Unsupported(type);
        }
    }

    /// <summary>The encoding <see cref="QuantizeActivations"/> uses for activations meeting <paramref name="weightType"/> rows:
    /// Q8_0 for Q8_0, Q4_0, Q5_0 and Q5_1, Q8_K for Q4_K, Q5_K and Q6_K, F32 for float weights.</summary>
    public static GgmlType ActivationType(GgmlType weightType) => weightType switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => GgmlType.F32,
        GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1 => GgmlType.Q8_0,
        GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlType.Q8_K,
        _ => throw Unsupported(weightType),
    };

    /// <summary>Bytes of the buffer <see cref="QuantizeActivations"/> fills for <paramref name="n"/> activations meeting <paramref name="weightType"/> rows.</summary>
    public static int ActivationSize(GgmlType weightType, int n) => RowSize(ActivationType(weightType), n);

    /// <summary>Quantizes activations <paramref name="x"/> once, for any number of <see cref="DotQ8"/> calls against rows of <paramref name="weightType"/>.</summary>
    public static void QuantizeActivations(GgmlType weightType, ReadOnlySpan<float> x, Span<byte> dst)
    {
        var type = ActivationType(weightType);
        if (dst.Length != RowSize(type, x.Length))
            throw new ArgumentException($"Activations of {x.Length} elements for {weightType} weights take {RowSize(type, x.Length)} bytes; got {dst.Length}.", nameof(dst));
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(x).CopyTo(dst); break;
            case GgmlType.Q8_0: Quantize.Q8_0(x, dst); break;
            default: Quantize.Q8_K(x, dst); break;
        }
    }

    /// <summary>Dot product of one weight row of <paramref name="n"/> elements with activations pre-quantized by <see cref="QuantizeActivations"/>.</summary>
    public static float DotQ8(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<byte> xq, int n)
    {
        CheckRow(type, row, n);
        if (xq.Length != ActivationSize(type, n))
            throw new ArgumentException($"Quantized activations of {n} elements for {type} weights take {ActivationSize(type, n)} bytes; got {xq.Length}.", nameof(xq));
        switch (type)
        {
            case GgmlType.F32 or GgmlType.F16 or GgmlType.BF16: return Dot(type, row, MemoryMarshal.Cast<byte, float>(xq));
            case GgmlType.Q8_0: return QuantKernels.DotQ8_0(row, xq, n / Q8_0Block.Size);
            case GgmlType.Q4_0: return QuantKernels.DotQ4_0(row, xq, n / Q4_0Block.Size);
            case GgmlType.Q5_0: return QuantKernels.DotQ5_0(row, xq, n / Q5_0Block.Size);
            case GgmlType.Q5_1: return QuantKernels.DotQ5_1(row, xq, n / Q5_1Block.Size);
            case GgmlType.Q4_K: return QuantKernels.DotQ4_K(row, xq, n / Q4KBlock.Size);
            case GgmlType.Q5_K: return QuantKernels.DotQ5_K(row, xq, n / Q5KBlock.Size);
            case GgmlType.Q6_K: return QuantKernels.DotQ6_K(row, xq, n / Q6KBlock.Size);
            default: throw Unsupported(type);
        }
    }

    private static void CheckRow(GgmlType type, ReadOnlySpan<byte> row, int n)
    {
        if (!IsSupported(type))
            throw Unsupported(type);
        if (n % GgmlTypes.BlockSize(type) != 0)
            throw new ArgumentException($"A {type} row needs a multiple of {GgmlTypes.BlockSize(type)} elements; got {n}.", nameof(n));
        if (row.Length != RowSize(type, n))
            throw new ArgumentException($"A {type} row of {n} elements takes {RowSize(type, n)} bytes; got {row.Length}.", nameof(row));
    }

    private static NotSupportedException Unsupported(GgmlType type) =>
        new($"Tensor type {GgmlTypes.Name(type)} is not supported by the engine (supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K); re-quantize the model to one of these.");
}
