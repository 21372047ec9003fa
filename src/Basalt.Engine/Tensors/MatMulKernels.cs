using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

/// <summary>Tiles of weight rows against a batch of quantized activation rows (prompt processing, batched decoding), dispatched by weight type:
/// the 32-weight block types to <see cref="PanelKernels"/>, the K-quants to <see cref="KQuantTiles"/> (rows as vector lanes), F16/BF16/F32 to
/// <see cref="F16Kernels"/>. Each decodes its tile once per call and repays the decode across the batch's tokens.
/// <see cref="DotRowsReference"/> (dequantize, then a double-precision dot) is the scalar reference the tests compare every path against.</summary>
internal static class MatMulKernels
{
    /// <summary>y[j * rowCount + i] = row_i · x_j; arguments already checked. For the 32-weight block types the activations' side
    /// information may come prepared once per batch (<see cref="PanelKernels.PrepareToken"/>): <paramref name="scales"/> and
    /// <paramref name="blockSums"/> then start at the first of these tokens; empty, the kernel prepares it.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y,
        ReadOnlySpan<float> scales = default, ReadOnlySpan<float> blockSums = default)
    {
        if (PanelKernels.Supports(type))
            PanelKernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y, scales, blockSums);
        else
            DotRowsOther(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
    }

    // The types without a 32-weight panel kernel.
    private static void DotRowsOther(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
            F16Kernels.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
        else if (KQuantTiles.Supports(type))
            KQuantTiles.DotRows(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
        else
            for (var i = 0; i < rowCount; i++)
            {
                var row = rows.Slice(i * rowBytes, rowBytes);
                for (var j = 0; j < tokens; j++)
                    y[j * rowCount + i] = TensorOps.DotQ8(type, row, xq.Slice(j * xBytes, xBytes), n);
            }
    }

    /// <summary>Reference: each weight row dequantized to floats, each activation row decoded from its Q8 blocks, a double-precision dot per pair.</summary>
    internal static void DotRowsReference(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int tokens, int n, Span<float> y)
    {
        var rowBytes = TensorOps.RowSize(type, n);
        var xBytes = TensorOps.ActivationSize(type, n);
        var w = new float[n];
        var x = new float[n];
        for (var j = 0; j < tokens; j++)
        {
            DecodeActivations(TensorOps.ActivationType(type), xq.Slice(j * xBytes, xBytes), x);
            for (var i = 0; i < rowCount; i++)
            {
                TensorOps.DequantizeRow(type, rows.Slice(i * rowBytes, rowBytes), w);
                var sum = 0.0;
                for (var k = 0; k < n; k++)
                    sum += (double)w[k] * x[k];
                y[j * rowCount + i] = (float)sum;
            }
        }
    }

    private static void DecodeActivations(GgmlType type, ReadOnlySpan<byte> xq, Span<float> x)
    {
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(xq).CopyTo(x); break;
            case GgmlType.Q8_0: TensorOps.DequantizeRow(GgmlType.Q8_0, xq, x); break;
            default:
                for (var b = 0; b < x.Length / Q8KBlock.Size; b++)
                {
                    var d = MemoryMarshal.Read<float>(xq[(b * Q8KBlock.Bytes + Q8KBlock.D)..]);
                    for (var k = 0; k < Q8KBlock.Size; k++)
                        x[b * Q8KBlock.Size + k] = d * (sbyte)xq[b * Q8KBlock.Bytes + Q8KBlock.Qs + k];
                }
                break;
        }
    }
}
