using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;

namespace Basalt.Engine.Tensors;

/// <summary>Tiles of float weight rows (F16, and F32/BF16 through the same path) against a batch of F32 activation rows
/// (prompt processing, batched decoding): <c>y[j * rowCount + i] = row_i · x_j</c>. Called by <see cref="MatMulKernels.DotRows"/>.</summary>
internal static unsafe class F16Kernels
{
    private const int RowTile = 2;
    private const int TokenTile = 4;

    /// <summary>y[j * rowCount + i] = row_i · x_j for float weight types; arguments already checked.</summary>
    public static void DotRows(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        if (Fma.IsSupported)
            DotRowsFloatFma(type, rows, rowBytes, rowCount, xq, xBytes, tokens, n, y);
        else
            for (var i = 0; i < rowCount; i++)
            {
                var row = rows.Slice(i * rowBytes, rowBytes);
                for (var j = 0; j < tokens; j++)
                    y[j * rowCount + i] = FloatDot(type, row, MemoryMarshal.Cast<byte, float>(xq.Slice(j * xBytes, xBytes)));
            }
    }

    // Per-thread scratch for the widened tile; grown on first use, then reused (no allocation per call).
    [ThreadStatic] private static float[]? t_floats;

    // Float weights: the tile is widened to F32 once, then a 2 x 4 FMA micro-kernel runs over it and four activation rows at a time.
    private static void DotRowsFloatFma(GgmlType type, ReadOnlySpan<byte> rows, int rowBytes, int rowCount, ReadOnlySpan<byte> xq, int xBytes, int tokens, int n, Span<float> y)
    {
        var w = t_floats is { } f && f.Length >= rowCount * n ? f : t_floats = new float[Math.Max(rowCount * n, 1024)];
        for (var r = 0; r < rowCount; r++)
            TensorOps.DequantizeRow(type, rows.Slice(r * rowBytes, rowBytes), w.AsSpan(r * n, n));
        var x = MemoryMarshal.Cast<byte, float>(xq);
        var xs = xBytes / 4;
        fixed (float* pw = w, px = x)
        {
            Span<float> sums = stackalloc float[RowTile * TokenTile];
            for (var r = 0; r < rowCount; r += RowTile)
            {
                var r1 = Math.Min(r + 1, rowCount - 1);
                for (var j = 0; j < tokens; j += TokenTile)
                {
                    int j1 = Math.Min(j + 1, tokens - 1), j2 = Math.Min(j + 2, tokens - 1), j3 = Math.Min(j + 3, tokens - 1);
                    KernelF32x2x4(pw + r * n, pw + r1 * n, px + j * xs, px + j1 * xs, px + j2 * xs, px + j3 * xs, n, sums);
                    for (var a = 0; a < RowTile && r + a < rowCount; a++)
                        for (var b = 0; b < TokenTile && j + b < tokens; b++)
                            y[(j + b) * rowCount + r + a] = sums[a * TokenTile + b];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelF32x2x4(float* w0, float* w1, float* x0, float* x1, float* x2, float* x3, int n, Span<float> sums)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        var k = 0;
        for (; k <= n - 8; k += 8)
        {
            var v0 = Avx.LoadVector256(w0 + k);
            var v1 = Avx.LoadVector256(w1 + k);
            var xv = Avx.LoadVector256(x0 + k);
            a00 = Fma.MultiplyAdd(v0, xv, a00);
            a10 = Fma.MultiplyAdd(v1, xv, a10);
            xv = Avx.LoadVector256(x1 + k);
            a01 = Fma.MultiplyAdd(v0, xv, a01);
            a11 = Fma.MultiplyAdd(v1, xv, a11);
            xv = Avx.LoadVector256(x2 + k);
            a02 = Fma.MultiplyAdd(v0, xv, a02);
            a12 = Fma.MultiplyAdd(v1, xv, a12);
            xv = Avx.LoadVector256(x3 + k);
            a03 = Fma.MultiplyAdd(v0, xv, a03);
            a13 = Fma.MultiplyAdd(v1, xv, a13);
        }
        sums[0] = Vector256.Sum(a00); sums[1] = Vector256.Sum(a01); sums[2] = Vector256.Sum(a02); sums[3] = Vector256.Sum(a03);
        sums[4] = Vector256.Sum(a10); sums[5] = Vector256.Sum(a11); sums[6] = Vector256.Sum(a12); sums[7] = Vector256.Sum(a13);
        for (; k < n; k++)
        {
            sums[0] += w0[k] * x0[k]; sums[1] += w0[k] * x1[k]; sums[2] += w0[k] * x2[k]; sums[3] += w0[k] * x3[k];
            sums[4] += w1[k] * x0[k]; sums[5] += w1[k] * x1[k]; sums[6] += w1[k] * x2[k]; sums[7] += w1[k] * x3[k];
        }
    }

    private static float FloatDot(GgmlType type, ReadOnlySpan<byte> row, ReadOnlySpan<float> x) => type switch
    {
        GgmlType.F32 => FloatKernels.DotF32(MemoryMarshal.Cast<byte, float>(row), x),
        GgmlType.F16 => FloatKernels.DotF16(MemoryMarshal.Cast<byte, ushort>(row), x),
        _ => FloatKernels.DotBF16(MemoryMarshal.Cast<byte, ushort>(row), x),
    };
}
