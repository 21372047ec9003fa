using Basalt.Engine.Threading;
using Basalt.Engine.Training;

namespace Basalt.Engine.Tests.Training;

public sealed class TrainingKernelsTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(7, 5, 13)]
    [InlineData(9, 66, 37)]
    [InlineData(33, 130, 256)]
    public void MatMul_OddShapes_MatchesDoubleReference(int m, int n, int k)
    {
        var rng = new Basalt.Engine.Generation.Rng(17);
        float[] Random(int length)
        {
            var a = new float[length];
            for (var i = 0; i < length; i++) a[i] = (float)(2 * rng.NextDouble() - 1);
            return a;
        }
        var a = Random(m * k);
        var b = Random(n * k);
        var c = Random(m * n);
        var expected = (float[])c.Clone();
        MatMulJob.Reference(a, b, expected, m, n, k, accumulate: true);
        using var pool = new WorkerPool(2);
        new MatMulJob().Run(pool, a, 0, b, 0, c, 0, m, n, k, accumulate: true);
        // Float accumulation over k terms of size <= 1: relative error well under 1e-5 * k.
        for (var i = 0; i < c.Length; i++)
            Assert.True(Math.Abs(expected[i] - c[i]) <= 1e-5 * k, $"element {i}: {c[i]} vs {expected[i]}");
    }
}
