using System.Runtime.InteropServices;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;
using static Basalt.Engine.Tests.Tensors.TensorTestData;

namespace Basalt.Engine.Tests.Tensors;

/// <summary>The F16 decode and tile kernels against their scalar references: odd lengths and row counts, subnormal weights,
/// infinities and NaNs in the weights, activations too large for the scaled fast path.</summary>
public sealed class F16KernelTests
{
    /// <summary>The vector paths sum in another order than the scalar loop: allowed error relative to Σ|w·x|.</summary>
    private const double FloatReorderTolerance = 1e-5;

    /// <summary>Tiles against the double-precision reference, relative to Σ|w·x| (as for the other tiled types).</summary>
    private const double TiledVsReferenceTolerance = 2e-5;

    // 16 and 32 are the vector steps of the one-row and four-row kernels; the others leave tails of every size.
    private static readonly int[] Lengths = [16, 17, 31, 47, 64, 100, 576, 1031];

    /// <summary>F16 rows from Gaussian weights with every 13th weight made subnormal (the F16 range below 2^-14).</summary>
    private static ushort[] Rows(int rowCount, int n, int seed)
    {
        var w = Gaussian(rowCount * n, seed, sigma: 0.05f);
        for (var i = 0; i < w.Length; i += 13)
            w[i] = (i % 2 == 0 ? 1 : -1) * 3e-6f * (1 + i % 7);
        return MemoryMarshal.Cast<byte, ushort>(Encode(GgmlType.F16, w)).ToArray();
    }

    private static double Magnitude(ReadOnlySpan<ushort> h, ReadOnlySpan<float> x)
    {
        var m = 0.0;
        for (var k = 0; k < x.Length; k++)
            m += Math.Abs((double)(float)BitConverter.UInt16BitsToHalf(h[k]) * x[k]);
        return m;
    }

    [Fact]
    public void DotRows_OddLengthsAndRowCounts_MatchScalarReference()
    {
        foreach (var n in Lengths)
            foreach (var rowCount in new[] { 1, 3, 4, 6, 9 })
            {
                var rows = Rows(rowCount, n, n * 10 + rowCount);
                var x = Gaussian(n, n + rowCount, sigma: 2f);
                var y = new float[rowCount];
                F16Kernels.DotRows(rows, rowCount, x, y);
                for (var i = 0; i < rowCount; i++)
                {
                    var row = rows.AsSpan(i * n, n);
                    var expected = FloatKernels.DotF16Scalar(row, x);
                    Assert.True(Math.Abs(expected - y[i]) <= FloatReorderTolerance * Magnitude(row, x),
                        $"n={n} rows={rowCount} row {i}: expected {expected}, got {y[i]}");
                }
            }
    }

    [Fact]
    public void DotRows_RowWithInfinityOrNaN_GivesTheScalarResultForThatRowOnly()
    {
        const int n = 47; // two vector steps of 16 and a tail of 15
        foreach (var special in new[] { (ushort)0x7C00, (ushort)0xFC00, (ushort)0x7E00 })
            foreach (var at in new[] { 0, 20, 40 })
            {
                var rows = Rows(6, n, at + special);
                rows[2 * n + at] = special;
                var x = Gaussian(n, at + 1);
                var y = new float[6];
                F16Kernels.DotRows(rows, 6, x, y);
                for (var i = 0; i < 6; i++)
                {
                    var row = rows.AsSpan(i * n, n);
                    var expected = FloatKernels.DotF16Scalar(row, x);
                    if (i == 2)
                        Assert.True(expected.Equals(y[i]), $"0x{special:X4} at {at}: expected {expected}, got {y[i]}");
                    else
                        Assert.True(float.IsFinite(y[i]) && Math.Abs(expected - y[i]) <= FloatReorderTolerance * Magnitude(row, x),
                            $"0x{special:X4} at {at}, clean row {i}: expected {expected}, got {y[i]}");
                }
            }
    }

    [Fact]
    public unsafe void AllFinite_InfinityOrNaNAnywhere_IsFalseAndCleanHalvesTrue()
    {
        // 9,001 halves: two full 4,096-half chunks, a partial vector chunk and a scalar tail of 41.
        const int count = 9001;
        var clean = Rows(1, count, 5);
        fixed (ushort* p = clean)
            Assert.True(F16Kernels.AllFinite(p, count));
        foreach (var special in new[] { (ushort)0x7C00, (ushort)0xFC00, (ushort)0x7E00, (ushort)0xFE01 })
            foreach (var at in new[] { 0, 63, 4095, 4096, 8959, 8960, 9000 })
            {
                var h = (ushort[])clean.Clone();
                h[at] = special;
                fixed (ushort* p = h)
                    Assert.False(F16Kernels.AllFinite(p, count), $"0x{special:X4} at {at} was not seen");
            }
    }

    [Fact]
    public unsafe void AllFinite_LargeMatrixScannedInParallelChunks_SeesASpecialInAnyChunk()
    {
        // 300,001 halves: three parallel chunks of 131,072 halves, the last one partial and ending in a scalar tail.
        const int count = 300_001;
        var h = new ushort[count];
        for (var i = 0; i < count; i++)
            h[i] = (ushort)(i % 0x7C00); // every finite positive half pattern in turn
        fixed (ushort* p = h)
            Assert.True(F16Kernels.AllFinite(p, count));
        foreach (var at in new[] { 0, 131_071, 131_072, 200_000, 299_999, 300_000 })
        {
            var saved = h[at];
            h[at] = 0xFC00;
            fixed (ushort* p = h)
                Assert.False(F16Kernels.AllFinite(p, count), $"-inf at {at} was not seen");
            h[at] = saved;
        }
    }

    [Fact]
    public unsafe void DotRows_FiniteMatrixOnFastPathAndMatrixWithInfinityOnExactPath_MatchReference()
    {
        foreach (var n in Lengths)
            foreach (var rowCount in new[] { 4, 9 })
            {
                var x = Gaussian(n, n + 7, sigma: 2f);
                var finite = Rows(rowCount, n, n * 3 + rowCount);
                bool flag;
                fixed (ushort* p = finite)
                    flag = F16Kernels.AllFinite(p, finite.Length);
                Assert.True(flag);
                var fast = new float[rowCount];
                var checkedSums = new float[rowCount];
                F16Kernels.DotRows(finite, rowCount, x, fast, flag);
                F16Kernels.DotRows(finite, rowCount, x, checkedSums);
                for (var i = 0; i < rowCount; i++)
                {
                    var row = finite.AsSpan(i * n, n);
                    var expected = FloatKernels.DotF16Scalar(row, x);
                    Assert.True(fast[i].Equals(checkedSums[i]), $"n={n} row {i}: fast {fast[i]} differs from the checked kernel's {checkedSums[i]}");
                    Assert.True(Math.Abs(expected - fast[i]) <= FloatReorderTolerance * Magnitude(row, x), $"n={n} row {i}: expected {expected}, got {fast[i]}");
                }

                var withInfinity = (ushort[])finite.Clone();
                withInfinity[1 * n + n / 2] = 0x7C00;
                fixed (ushort* p = withInfinity)
                    flag = F16Kernels.AllFinite(p, withInfinity.Length);
                Assert.False(flag);
                var y = new float[rowCount];
                F16Kernels.DotRows(withInfinity, rowCount, x, y, flag);
                for (var i = 0; i < rowCount; i++)
                {
                    var row = withInfinity.AsSpan(i * n, n);
                    var expected = FloatKernels.DotF16Scalar(row, x);
                    if (i == 1)
                        Assert.True(expected.Equals(y[i]), $"n={n}: the row with +inf gave {y[i]}, the exact path {expected}");
                    else
                        Assert.True(y[i].Equals(fast[i]), $"n={n} clean row {i}: {y[i]} vs {fast[i]} when the matrix was finite");
                }
            }
    }

    [Fact]
    public void DotRows_ActivationsBeyondScaledRange_MatchScalarReference()
    {
        const int n = 100;
        var rows = Rows(5, n, 3);
        foreach (var big in new[] { 3e21f, 1e30f, float.PositiveInfinity, float.NaN })
        {
            var x = Gaussian(n, 4);
            x[33] = big;
            var y = new float[5];
            F16Kernels.DotRows(rows, 5, x, y);
            for (var i = 0; i < 5; i++)
            {
                var row = rows.AsSpan(i * n, n);
                var expected = FloatKernels.DotF16Scalar(row, x);
                Assert.True(expected.Equals(y[i]) || Math.Abs(expected - y[i]) <= FloatReorderTolerance * Magnitude(row, x),
                    $"x[33]={big} row {i}: expected {expected}, got {y[i]}");
            }
        }
    }

    [Fact]
    public void DotQ8_F16RowRange_MatchesPerRowDot()
    {
        const int n = 576;
        var rows = Rows(7, n, 11);
        var x = Gaussian(n, 12);
        var xq = new byte[TensorOps.ActivationSize(GgmlType.F16, n)];
        TensorOps.QuantizeActivations(GgmlType.F16, x, xq);
        var y = new float[7];
        RowKernels.DotQ8(GgmlType.F16, MemoryMarshal.AsBytes(rows.AsSpan()), 7, xq, n, y);
        for (var i = 0; i < 7; i++)
        {
            var row = rows.AsSpan(i * n, n);
            var expected = TensorOps.Dot(GgmlType.F16, MemoryMarshal.AsBytes(row), x);
            Assert.True(Math.Abs(expected - y[i]) <= FloatReorderTolerance * Magnitude(row, x), $"row {i}: expected {expected}, got {y[i]}");
        }
    }

    [Fact]
    public void ToSingle_EveryHalfBitPattern_MatchesHalfConversion()
    {
        var all = new ushort[65536 + 7]; // a tail after the last block of 16
        for (var i = 0; i < all.Length; i++)
            all[i] = (ushort)i;
        var converted = new float[all.Length];
        F16Kernels.ToSingle(all, converted);
        for (var i = 0; i < all.Length; i++)
        {
            var expected = (float)BitConverter.UInt16BitsToHalf(all[i]);
            Assert.True(expected.Equals(converted[i]) && float.IsNegative(expected) == float.IsNegative(converted[i]),
                $"0x{all[i]:X4}: expected {expected}, got {converted[i]}");
        }
    }

    [Theory]
    [InlineData(16, 1, 576)]
    [InlineData(16, 2, 576)]
    [InlineData(16, 3, 100)]
    [InlineData(16, 4, 47)]
    [InlineData(5, 7, 64)]
    [InlineData(1, 2, 17)]
    [InlineData(13, 16, 1031)]
    [InlineData(7, 17, 8)]
    [InlineData(21, 9, 40)]
    public void DotQ8Rows_F16TileShapes_MatchScalarReference(int rowCount, int tokens, int n)
    {
        var rows = Rows(rowCount, n, rowCount * 31 + tokens);
        rows[0] = 0x7C00; // row 0 holds an infinity: the exact widening keeps it
        var x = new float[tokens * n];
        for (var j = 0; j < tokens; j++)
            Gaussian(n, 500 + j, sigma: 3f).CopyTo(x, j * n);
        var rowBytes = MemoryMarshal.AsBytes(rows.AsSpan());
        var xq = MemoryMarshal.AsBytes(x.AsSpan());
        var actual = new float[tokens * rowCount];
        TensorOps.DotQ8Rows(GgmlType.F16, rowBytes, rowCount, xq, tokens, n, actual);
        var expected = new float[tokens * rowCount];
        MatMulKernels.DotRowsReference(GgmlType.F16, rowBytes, rowCount, xq, tokens, n, expected);
        for (var j = 0; j < tokens; j++)
            for (var i = 0; i < rowCount; i++)
            {
                var row = rows.AsSpan(i * n, n);
                var magnitude = Magnitude(row, x.AsSpan(j * n, n));
                float a = actual[j * rowCount + i], e = expected[j * rowCount + i];
                Assert.True(a.Equals(e) || Math.Abs(a - e) <= TiledVsReferenceTolerance * magnitude,
                    $"row {i} token {j}: {a} vs reference {e} (|w||x| {magnitude:G4})");
            }
    }

    [Theory]
    [InlineData((ushort)0x7C00)]
    [InlineData((ushort)0xFC00)]
    [InlineData((ushort)0x7E00)]
    [InlineData((ushort)0xFE00)]
    public void DotQ8Rows_F16TileWithSpecialInSecondOctet_GivesReferenceForThatRowAndFiniteOthers(ushort special)
    {
        // 16 full rows of 64 and 8 tokens: both octets take the in-register widening; row 11 (second octet) holds the special value,
        // which must send that octet to the exact widening whatever its sign.
        const int rowCount = 16, tokens = 8, n = 64;
        var rows = Rows(rowCount, n, special);
        rows[11 * n + 37] = special;
        var x = new float[tokens * n];
        for (var j = 0; j < tokens; j++)
            Gaussian(n, 700 + j).CopyTo(x, j * n);
        var rowBytes = MemoryMarshal.AsBytes(rows.AsSpan());
        var xq = MemoryMarshal.AsBytes(x.AsSpan());
        var actual = new float[tokens * rowCount];
        TensorOps.DotQ8Rows(GgmlType.F16, rowBytes, rowCount, xq, tokens, n, actual);
        var expected = new float[tokens * rowCount];
        MatMulKernels.DotRowsReference(GgmlType.F16, rowBytes, rowCount, xq, tokens, n, expected);
        for (var j = 0; j < tokens; j++)
            for (var i = 0; i < rowCount; i++)
            {
                float a = actual[j * rowCount + i], e = expected[j * rowCount + i];
                if (i == 11)
                    Assert.True(!float.IsFinite(e) && a.Equals(e), $"0x{special:X4}, token {j}: {a} vs reference {e}");
                else
                    Assert.True(float.IsFinite(a) && Math.Abs(a - e) <= TiledVsReferenceTolerance * Magnitude(rows.AsSpan(i * n, n), x.AsSpan(j * n, n)),
                        $"0x{special:X4}, row {i} token {j}: {a} vs reference {e}");
            }
    }

    [Theory]
    [InlineData(1, 47)]
    [InlineData(2, 576)]
    [InlineData(3, 100)]
    [InlineData(3, 1031)]
    public void DotQ8Rows_FewTokens_EqualDecodingEachTokenAlone(int tokens, int n)
    {
        const int rowCount = 7; // pairs of rows and an odd one; fours and a tail of three
        var rows = Rows(rowCount, n, tokens + n);
        rows[3 * n + 5] = 0xFC00; // row 3 takes the exact path in both
        var x = new float[tokens * n];
        for (var j = 0; j < tokens; j++)
            Gaussian(n, 700 + j, sigma: 2f).CopyTo(x, j * n);
        var batched = new float[tokens * rowCount];
        TensorOps.DotQ8Rows(GgmlType.F16, MemoryMarshal.AsBytes(rows.AsSpan()), rowCount, MemoryMarshal.AsBytes(x.AsSpan()), tokens, n, batched);
        var alone = new float[rowCount];
        for (var j = 0; j < tokens; j++)
        {
            F16Kernels.DotRows(rows, rowCount, x.AsSpan(j * n, n), alone);
            for (var i = 0; i < rowCount; i++)
                Assert.True(alone[i].Equals(batched[j * rowCount + i]), $"token {j} row {i}: decoding alone {alone[i]}, in a batch of {tokens} {batched[j * rowCount + i]}");
        }
    }

    [Fact]
    public void DotQ8Rows_FewTokensWithHugeActivation_MatchScalarReference()
    {
        const int n = 64;
        var rows = Rows(5, n, 9);
        var x = new float[2 * n];
        Gaussian(2 * n, 10).CopyTo(x, 0);
        x[n + 7] = 1e30f; // second token beyond the scaled range: the exact panel path
        var actual = new float[2 * 5];
        TensorOps.DotQ8Rows(GgmlType.F16, MemoryMarshal.AsBytes(rows.AsSpan()), 5, MemoryMarshal.AsBytes(x.AsSpan()), 2, n, actual);
        for (var j = 0; j < 2; j++)
            for (var i = 0; i < 5; i++)
            {
                var row = rows.AsSpan(i * n, n);
                var expected = FloatKernels.DotF16Scalar(row, x.AsSpan(j * n, n));
                Assert.True(Math.Abs(expected - actual[j * 5 + i]) <= FloatReorderTolerance * Magnitude(row, x.AsSpan(j * n, n)),
                    $"token {j} row {i}: expected {expected}, got {actual[j * 5 + i]}");
            }
    }
}
