using System.Runtime.InteropServices;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

public static partial class TensorOps
{
    /// <summary>Dots <paramref name="rowCount"/> consecutive weight rows of <paramref name="n"/> elements (<paramref name="rows"/>, in the type's
    /// encoding) with <paramref name="tokens"/> activation rows quantized by <see cref="QuantizeActivations"/> and laid back to back in
    /// <paramref name="xq"/> (<see cref="ActivationSize"/> bytes each): <c>y[j * rowCount + i] = row_i · x_j</c>.
    /// The rows stay in cache while every activation row passes over them, so a batch reads each weight byte once.</summary>
    public static void DotQ8Rows(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int tokens, int n, Span<float> y)
    {
        if (!IsSupported(type))
            throw Unsupported(type);
        if (n <= 0 || n % GgmlTypes.BlockSize(type) != 0)
            throw new ArgumentException($"A {type} row needs a positive multiple of {GgmlTypes.BlockSize(type)} elements; got {n}.", nameof(n));
        var rowBytes = RowSize(type, n);
        var xBytes = ActivationSize(type, n);
        if (rowCount < 0 || rows.Length < (long)rowCount * rowBytes)
            throw new ArgumentException($"{rowCount} {type} rows of {n} elements take {(long)rowCount * rowBytes} bytes; got {rows.Length}.", nameof(rows));
        if (tokens < 0 || xq.Length < (long)tokens * xBytes)
            throw new ArgumentException($"{tokens} activation rows of {n} elements for {type} weights take {(long)tokens * xBytes} bytes; got {xq.Length}.", nameof(xq));
        if (y.Length < (long)tokens * rowCount)
            throw new ArgumentException($"The output needs {(long)tokens * rowCount} floats; got {y.Length}.", nameof(y));
        MatMulKernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
    }
}

/// <summary>Tiles of weight rows against a batch of quantized activation rows (prompt processing, batched decoding).
/// Each SIMD path has a scalar reference beside it (<see cref="DotRowsReference"/>) that the tests compare against at odd sizes.</summary>
internal static class MatMulKernels
{
    /// <summary>y[j * rowCount + i] = row_i · x_j; arguments already checked.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        switch (type)
        {
            case GgmlType.F32 or GgmlType.F16 or GgmlType.BF16:
                for (var i = 0; i < rowCount; i++)
                {
                    var row = rows.Slice(i * rowBytes, rowBytes);
                    for (var j = 0; j < tokens; j++)
                        y[j * rowCount + i] = FloatDot(type, row, MemoryMarshal.Cast<byte, float>(xq.Slice(j * xBytes, xBytes)));
                }
                break;
            default:
                DotRowsReference(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
                break;
        }
    }

    private static float FloatDot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<float> x) => type switch
    {
        GgmlType.F32 => FloatKernels.DotF32(MemoryMarshal.Cast<byte, float>(row), x),
        GgmlType.F16 => FloatKernels.DotF16(MemoryMarshal.Cast<byte, ushort>(row), x),
        _ => FloatKernels.DotBF16(MemoryMarshal.Cast<byte, ushort>(row), x),
    };

    /// <summary>Reference: one single-row dot per (row, token).</summary>
    internal static void DotRowsReference(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        for (var i = 0; i < rowCount; i++)
        {
            var row = rows.Slice(i * rowBytes, rowBytes);
            for (var j = 0; j < tokens; j++)
                y[j * rowCount + i] = TensorOps.DotQ8(type, row, xq.Slice(j * xBytes, xBytes), n);
        }
    }
}
