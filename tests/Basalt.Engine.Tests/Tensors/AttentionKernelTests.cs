using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Tests.Tensors;

public sealed class AttentionKernelTests
{
    // Vector paths against their scalar references: float rounding of sums of up to a few hundred products, relative to their size.
    private const double KernelTolerance = 1e-5;
    // The vector exp against MathF.Exp: a few ulps.
    private const double ExpTolerance = 4e-6;

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance)
    {
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(1, 1, 8)]
    [InlineData(3, 7, 64)]
    [InlineData(5, 9, 13)]
    [InlineData(48, 32, 64)]
    [InlineData(2, 5, 3)]
    public void Scores_OddShapes_MatchesScalarReference(int rows, int keys, int dim)
    {
        var q = TensorTestData.Gaussian(rows * (dim + 3) + 5, 1);
        var qOffsets = Enumerable.Range(0, rows).Select(r => 5 + r * (dim + 3)).ToArray();
        var ldk = dim + 2;
        var k = TensorTestData.Gaussian(keys * ldk, 2);
        var lds = keys + 1;
        var actual = new float[rows * lds];
        var expected = new float[rows * lds];
        AttentionKernels.Scores(q, qOffsets, k, ldk, keys, dim, actual, lds);
        AttentionKernels.ScoresScalar(q, qOffsets, k, ldk, keys, dim, expected, lds);
        AssertClose(expected, actual, KernelTolerance * Math.Sqrt(dim));
    }

    [Theory]
    [InlineData(1, 1, 8)]
    [InlineData(3, 7, 64)]
    [InlineData(5, 9, 45)]
    [InlineData(2, 33, 3)]
    public void AccumulateValues_OddShapes_MatchesScalarReference(int rows, int keys, int dim)
    {
        var ldp = keys + 3;
        var p = TensorTestData.Gaussian(rows * ldp, 3);
        var ldv = dim + 1;
        var v = TensorTestData.Gaussian(keys * ldv, 4);
        var oOffsets = Enumerable.Range(0, rows).Select(r => (rows - 1 - r) * (dim + 2)).ToArray();
        var actual = TensorTestData.Gaussian(rows * (dim + 2), 5);
        var expected = (float[])actual.Clone();
        AttentionKernels.AccumulateValues(p, ldp, v, ldv, keys, dim, actual, oOffsets);
        AttentionKernels.AccumulateValuesScalar(p, ldp, v, ldv, keys, dim, expected, oOffsets);
        AssertClose(expected, actual, KernelTolerance * Math.Sqrt(keys));
    }

    [Theory]
    [InlineData(3, 64)]
    [InlineData(2, 13)]
    public void HalfRows_StridedRows_MatchesScalarReference(int rows, int n)
    {
        var stride = 2 * n + 6;
        var src = TensorTestData.Encode(GgmlType.F16, TensorTestData.Gaussian(rows * stride / 2 + 4, 6));
        // Infinities and NaNs come through as such.
        BitConverter.TryWriteBytes(src.AsSpan(4), (ushort)0x7c00);
        BitConverter.TryWriteBytes(src.AsSpan(6), (ushort)0xfe00);
        var actual = new float[rows * (n + 1)];
        var expected = new float[rows * (n + 1)];
        AttentionKernels.HalfRows(src, 4, stride, rows, n, actual, n + 1);
        AttentionKernels.HalfRowsScalar(src, 4, stride, rows, n, expected, n + 1);
        Assert.Equal(expected, actual);
        Assert.Equal(float.PositiveInfinity, actual[0]);
    }

    [Fact]
    public void Q8_0Rows_StridedRows_MatchesScalarReference()
    {
        const int rows = 3, n = 64;
        var row = TensorOps.RowSize(GgmlType.Q8_0, n);
        var src = TensorTestData.RandomBlocks(GgmlType.Q8_0, 3 * rows * n / 32, 7);
        var actual = new float[rows * n];
        var expected = new float[rows * n];
        AttentionKernels.Q8_0Rows(src, 34, 2 * row, rows, n, actual, n);
        AttentionKernels.Q8_0RowsScalar(src, 34, 2 * row, rows, n, expected, n);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.Q8_0)]
    public void PanelRows_LastHeadOfManyRows_MatchesScalarReference(KvCacheType type)
    {
        // The last of 3 heads of 64 over 21 cached rows, as decoding reads a panel: the rows ahead that the kernels prefetch run past
        // the end of the cache, and the decoded rows must still be exactly the scalar ones.
        const int rows = 21, n = 64, heads = 3;
        var head = KvCache.RowBytes(type, n);
        var stride = heads * head;
        var src = type == KvCacheType.F16
            ? TensorTestData.Encode(GgmlType.F16, TensorTestData.Gaussian(rows * stride / 2, 8))
            : TensorTestData.RandomBlocks(GgmlType.Q8_0, rows * heads * n / 32, 8);
        var actual = new float[rows * n];
        var expected = new float[rows * n];
        if (type == KvCacheType.F16)
        {
            AttentionKernels.HalfRows(src, (heads - 1) * head, stride, rows, n, actual, n);
            AttentionKernels.HalfRowsScalar(src, (heads - 1) * head, stride, rows, n, expected, n);
        }
        else
        {
            AttentionKernels.Q8_0Rows(src, (heads - 1) * head, stride, rows, n, actual, n);
            AttentionKernels.Q8_0RowsScalar(src, (heads - 1) * head, stride, rows, n, expected, n);
        }
        Assert.Equal(src.Length, (long)(rows - 1) * stride + (heads - 1) * head + head);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData(13, 2, 11, 0f)]
    [InlineData(32, 0, 32, 0f)]
    [InlineData(5, 4, 5, 3f)]
    [InlineData(64, 30, 31, 0f)]
    public void ScaleAndMaxThenExpAndSum_MaskedRows_MatchesScalarReference(int keys, int from, int to, float softcap)
    {
        var padded = (keys + 7) & ~7;
        var actual = TensorTestData.Gaussian(padded, 8, sigma: 4);
        // Stale values past the row (here NaN) must not leak into the max, the sum or the probabilities.
        for (var i = keys; i < padded; i++)
            actual[i] = float.NaN;
        var expected = (float[])actual.Clone();
        var max = AttentionKernels.ScaleAndMax(actual, keys, from, to, 0.125f, softcap);
        var expectedMax = AttentionKernels.ScaleAndMaxScalar(expected, keys, from, to, 0.125f, softcap);
        Assert.Equal(expectedMax, max);
        var sum = AttentionKernels.ExpAndSum(actual, keys, from, to, max);
        var expectedSum = AttentionKernels.ExpAndSumScalar(expected, keys, from, to, expectedMax);
        Assert.InRange(Math.Abs(sum - expectedSum), 0, ExpTolerance * expectedSum * keys);
        AssertClose(expected.AsSpan(0, keys), actual.AsSpan(0, keys), ExpTolerance);
        for (var i = 0; i < keys; i++)
            if (i < from || i >= to)
                Assert.Equal(0f, actual[i]);
    }

    [Fact]
    public void ExpNonPositive_WholeRange_MatchesMathExp()
    {
        // Every 1/64 from 0 down to -100: the polynomial's ulps on [-87.3, 0], exact zeros below.
        for (var i = 0; i <= 6400; i += 8)
        {
            var x = System.Runtime.Intrinsics.Vector256.Create(Enumerable.Range(i, 8).Select(k => -k / 64f).ToArray());
            var e = AttentionKernels.ExpNonPositive(x);
            for (var k = 0; k < 8; k++)
            {
                var expected = Math.Exp(x[k]);
                if (x[k] < -87.3f)
                    Assert.Equal(0f, e[k]);
                else
                    Assert.True(Math.Abs(e[k] - expected) <= ExpTolerance * expected, $"exp({x[k]}) = {e[k]}, expected {expected}");
            }
        }
    }
}
