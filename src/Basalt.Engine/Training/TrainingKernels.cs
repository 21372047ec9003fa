using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Training;

/// <summary>C[M, N] = A[M, K] · B[N, K]ᵀ (or +=), every operand row-major: the one matrix product training needs, since the
/// backward products become this form once their operands are transposed. Work is split by tiles of four rows of A; each
/// element of C is reduced by one thread in a fixed order, so the result does not depend on how the pool splits the work.</summary>
internal sealed unsafe class MatMulJob : IRangeJob
{
    // Rows of B per cache block: about 128 KiB of B stays in L2 while a chunk's tiles of A stream past it.
    private const int BlockFloats = 32 * 1024;
    private const int TileRows = 4;

    private float[] _a = [], _b = [], _c = [];
    private int _aOffset, _bOffset, _cOffset, _m, _n, _k;
    private bool _accumulate;

    /// <summary>Runs the product on <paramref name="pool"/>.</summary>
    public void Run(WorkerPool pool, float[] a, int aOffset, float[] b, int bOffset, float[] c, int cOffset, int m, int n, int k, bool accumulate)
    {
        (_a, _aOffset, _b, _bOffset, _c, _cOffset, _m, _n, _k, _accumulate) = (a, aOffset, b, bOffset, c, cOffset, m, n, k, accumulate);
        if ((long)m * n * k < 32 * 1024)
            Execute(0, (m + TileRows - 1) / TileRows);
        else
            pool.Run(this, (m + TileRows - 1) / TileRows, 1);
    }

    public void Execute(int startTile, int endTile)
    {
        var k = _k;
        var blockRows = Math.Max(8, BlockFloats / Math.Max(k, 1)) & ~1;
        fixed (float* pa = _a, pb = _b, pc = _c)
        {
            var a = pa + _aOffset;
            var b = pb + _bOffset;
            var c = pc + _cOffset;
            for (var nb = 0; nb < _n; nb += blockRows)
            {
                var ne = Math.Min(_n, nb + blockRows);
                for (var tile = startTile; tile < endTile; tile++)
                {
                    var m0 = tile * TileRows;
                    var rows = Math.Min(TileRows, _m - m0);
                    var j = nb;
                    if (rows == TileRows)
                        for (; j + 1 < ne; j += 2)
                            Tile4x2(a + (long)m0 * k, b + (long)j * k, c + (long)m0 * _n + j, k, _n, _accumulate);
                    for (; j < ne; j++)
                        for (var r = 0; r < rows; r++)
                        {
                            var dot = Dot(a + (long)(m0 + r) * k, b + (long)j * k, k);
                            ref var cell = ref c[(long)(m0 + r) * _n + j];
                            cell = _accumulate ? cell + dot : dot;
                        }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile4x2(float* a, float* b, float* c, int k, int ldc, bool accumulate)
    {
        var a0 = a; var a1 = a + k; var a2 = a + 2 * k; var a3 = a + 3 * k;
        var b0 = b; var b1 = b + k;
        var i = 0;
        float s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
        if (Vector256.IsHardwareAccelerated && k >= 8)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (; i <= k - 8; i += 8)
            {
                var vb0 = Vector256.Load(b0 + i);
                var vb1 = Vector256.Load(b1 + i);
                var va = Vector256.Load(a0 + i);
                c00 = Vector256.FusedMultiplyAdd(va, vb0, c00);
                c01 = Vector256.FusedMultiplyAdd(va, vb1, c01);
                va = Vector256.Load(a1 + i);
                c10 = Vector256.FusedMultiplyAdd(va, vb0, c10);
                c11 = Vector256.FusedMultiplyAdd(va, vb1, c11);
                va = Vector256.Load(a2 + i);
                c20 = Vector256.FusedMultiplyAdd(va, vb0, c20);
                c21 = Vector256.FusedMultiplyAdd(va, vb1, c21);
                va = Vector256.Load(a3 + i);
                c30 = Vector256.FusedMultiplyAdd(va, vb0, c30);
                c31 = Vector256.FusedMultiplyAdd(va, vb1, c31);
            }
            s00 = Vector256.Sum(c00); s01 = Vector256.Sum(c01); s10 = Vector256.Sum(c10); s11 = Vector256.Sum(c11);
            s20 = Vector256.Sum(c20); s21 = Vector256.Sum(c21); s30 = Vector256.Sum(c30); s31 = Vector256.Sum(c31);
        }
        for (; i < k; i++)
        {
            float x0 = b0[i], x1 = b1[i];
            s00 += a0[i] * x0; s01 += a0[i] * x1;
            s10 += a1[i] * x0; s11 += a1[i] * x1;
            s20 += a2[i] * x0; s21 += a2[i] * x1;
            s30 += a3[i] * x0; s31 += a3[i] * x1;
        }
        if (accumulate)
        {
            c[0] += s00; c[1] += s01; c[ldc] += s10; c[ldc + 1] += s11;
            c[2 * ldc] += s20; c[2 * ldc + 1] += s21; c[3 * ldc] += s30; c[3 * ldc + 1] += s31;
        }
        else
        {
            c[0] = s00; c[1] = s01; c[ldc] = s10; c[ldc + 1] = s11;
            c[2 * ldc] = s20; c[2 * ldc + 1] = s21; c[3 * ldc] = s30; c[3 * ldc + 1] = s31;
        }
    }

    /// <summary>Dot product of two rows of <paramref name="k"/> floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* x, float* y, int k)
    {
        var i = 0;
        var sum = 0f;
        if (Vector256.IsHardwareAccelerated && k >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= k - 8; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < k; i++)
            sum += x[i] * y[i];
        return sum;
    }

    /// <summary>Scalar double-precision reference of the same product, for the kernel tests.</summary>
    internal static void Reference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate)
    {
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double s = accumulate ? c[i * n + j] : 0;
                for (var p = 0; p < k; p++)
                    s += (double)a[i * k + p] * b[j * k + p];
                c[i * n + j] = (float)s;
            }
    }
}

/// <summary>dst[C, R] = src[R, C]ᵀ in 32 × 32 blocks, split by row blocks of the source.</summary>
internal sealed class TransposeJob : IRangeJob
{
    private const int Block = 32;
    private float[] _src = [], _dst = [];
    private int _srcOffset, _dstOffset, _rows, _cols;

    public void Run(WorkerPool pool, float[] src, int srcOffset, float[] dst, int dstOffset, int rows, int cols)
    {
        (_src, _srcOffset, _dst, _dstOffset, _rows, _cols) = (src, srcOffset, dst, dstOffset, rows, cols);
        var blocks = (rows + Block - 1) / Block;
        if ((long)rows * cols < 64 * 1024)
            Execute(0, blocks);
        else
            pool.Run(this, blocks, 1);
    }

    public void Execute(int start, int end)
    {
        var src = _src.AsSpan(_srcOffset);
        var dst = _dst.AsSpan(_dstOffset);
        for (var rb = start * Block; rb < Math.Min(_rows, end * Block); rb += Block)
        {
            var re = Math.Min(_rows, rb + Block);
            for (var cb = 0; cb < _cols; cb += Block)
            {
                var ce = Math.Min(_cols, cb + Block);
                for (var r = rb; r < re; r++)
                    for (var c = cb; c < ce; c++)
                        dst[c * _rows + r] = src[r * _cols + c];
            }
        }
    }
}

/// <summary>A job over rows whose body is a method bound once at construction, so dispatching it allocates nothing.</summary>
internal sealed class RowsJob(Action<int, int> body) : IRangeJob
{
    public void Run(WorkerPool pool, int rows, int minChunk = 1) => pool.Run(this, rows, minChunk);

    public void Execute(int start, int end) => body(start, end);
}
