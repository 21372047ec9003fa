using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Decoding (one token): a range of consecutive weight rows against one activation vector quantized by
/// <see cref="TensorOps.QuantizeActivations"/>. The checks, the type dispatch and the conversion of the activations' block scales happen
/// once per range instead of once per row, which matters for the short rows of small models (576 weights: 18 blocks).</summary>
internal static class RowKernels
{
    /// <summary>y[i] = row_i · x for <paramref name="rowCount"/> rows of <paramref name="n"/> elements. <paramref name="finite"/>: F16 rows
    /// known to hold no infinity or NaN (<see cref="F16Kernels.AllFinite"/>), which lets their kernel skip its check.</summary>
    public static void DotQ8(GgmlType type, ReadOnlySpan<byte> rows, int rowCount, ReadOnlySpan<byte> xq, int n, Span<float> y, bool finite = false)
    {
        var rowBytes = TensorOps.RowSize(type, n);
        if (rowCount < 0 || rows.Length < (long)rowCount * rowBytes)
            throw new ArgumentException($"{rowCount} {type} rows of {n} elements take {(long)rowCount * rowBytes} bytes; got {rows.Length}.", nameof(rows));
        if (xq.Length != TensorOps.ActivationSize(type, n))
            throw new ArgumentException($"Quantized activations of {n} elements for {type} weights take {TensorOps.ActivationSize(type, n)} bytes; got {xq.Length}.", nameof(xq));
        if (y.Length < rowCount)
            throw new ArgumentException($"The output needs {rowCount} floats; got {y.Length}.", nameof(y));
        // The range kernels are the AVX2 ones; machines with AVX-512 (and without AVX2) keep the per-row dispatch.
        if (!Avx2.IsSupported || Avx512BW.IsSupported)
        {
            Reference(type, rows, rowBytes, rowCount, xq, n, y);
            return;
        }
        switch (type)
        {
            case GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q5_1:
                QuantKernels.DotRows(type, rows, rowBytes, rowCount, xq, n / Q8_0Block.Size, y);
                break;
            case GgmlType.Q4_K or GgmlType.Q5_K:
                KQuant(type, rows, rowBytes, rowCount, xq, n / Q8KBlock.Size, y);
                break;
            case GgmlType.Q6_K:
                for (var i = 0; i < rowCount; i++)
                    y[i] = QuantKernels.DotQ6_KV256(rows.Slice(i * rowBytes, rowBytes), xq, n / Q6KBlock.Size);
                break;
            case GgmlType.F16:
                F16Kernels.DotRows(MemoryMarshal.Cast<byte, ushort>(rows[..(rowCount * rowBytes)]), rowCount, MemoryMarshal.Cast<byte, float>(xq), y, finite);
                break;
            default:
                Reference(type, rows, rowBytes, rowCount, xq, n, y);
                break;
        }
    }

    /// <summary>Reference: one checked single-row dot per row.</summary>
    internal static void Reference(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int n, Span<float> y)
    {
        for (var i = 0; i < rowCount; i++)
            y[i] = TensorOps.DotQ8(type, rows.Slice(i * rowBytes, rowBytes), xq, n);
    }

    private static unsafe void KQuant(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int blocks, Span<float> y)
    {
        fixed (byte* pw = rows, px = xq)
        fixed (float* py = y)
            QuantKernels.DotRowsK(type, pw, rowBytes, rowCount, px, blocks, py);
    }
}
