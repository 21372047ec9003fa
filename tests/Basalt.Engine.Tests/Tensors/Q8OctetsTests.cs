using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;
using Xunit;
using static Basalt.Engine.Tests.Tensors.TensorTestData;

namespace Basalt.Engine.Tests.Tensors;

public sealed unsafe class Q8OctetsTests
{
    // The octet kernels scale each block's integer sums of 8 rows in float lanes where the reference reduces each row first: the
    // difference is float rounding, measured against the sum of |w_k x_k| of the pair (as the small-batch kernels).
    private const double OctetVsReferenceTolerance = 2e-5;

    private static byte[] Repack(byte[] rows, int rowCount, int n)
    {
        var packed = new byte[rows.Length];
        fixed (byte* src = rows, dst = packed)
            Q8Octets.Repack(src, dst, TensorOps.RowSize(GgmlType.Q8_0, n), n / 32, 0, rowCount / 8);
        return packed;
    }

    private static (byte[] Rows, byte[] Packed) RandomMatrix(int rowCount, int n, int seed)
    {
        var rows = RandomBlocks(GgmlType.Q8_0, rowCount * n / 32, seed);
        return (rows, Repack(rows, rowCount, n));
    }

    [Theory]
    [InlineData(8, 32)]
    [InlineData(24, 96)]
    [InlineData(16, 576)]
    public void Repack_ThenReadBack_GivesEveryOriginalRow(int rowCount, int n)
    {
        if (!Q8Octets.Supports(GgmlType.Q8_0, rowCount, n))
        {
            Console.WriteLine("skipped: the octet kernels need AVX2 and FMA");
            return;
        }
        var (rows, packed) = RandomMatrix(rowCount, n, 3 + n);
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        var copy = new byte[rowBytes];
        var floats = new float[n];
        var expected = new float[n];
        for (var r = 0; r < rowCount; r++)
        {
            fixed (byte* p = packed)
            {
                Q8Octets.CopyRow(p, rowBytes, r, n / 32, copy);
                Q8Octets.DequantizeRow(p, rowBytes, r, n / 32, floats);
            }
            Assert.Equal(rows.AsSpan(r * rowBytes, rowBytes).ToArray(), copy);
            TensorOps.DequantizeRow(GgmlType.Q8_0, rows.AsSpan(r * rowBytes, rowBytes), expected);
            Assert.Equal(expected, floats);
        }
        // Same size, and an octet's first block leads with its 8 rows' scales in row order.
        Assert.Equal(rows.Length, packed.Length);
        for (var r = 0; r < 8; r++)
            Assert.Equal(rows[r * rowBytes], packed[2 * r]);
    }

    public static TheoryData<int, int, int, int, int> Ranges()
    {
        var data = new TheoryData<int, int, int, int, int>();
        // (rows, n, first row, end row, tokens): every token count the engine sends (decode, 2-3, groups of 4 and 8 with leftovers),
        // whole octets and ranges that start or end inside one, rows wider than one chunk of 32 blocks.
        foreach (var tokens in new[] { 1, 2, 3, 4, 7, 8, 9, 16 })
        {
            data.Add(16, 96, 0, 16, tokens);
            data.Add(40, 576, 3, 37, tokens);
            data.Add(24, 1504, 8, 24, tokens);
        }
        data.Add(8, 32, 2, 5, 1);
        data.Add(8, 32, 2, 5, 6);
        data.Add(32, 2080, 0, 32, 13);
        return data;
    }

    [Theory]
    [MemberData(nameof(Ranges))]
    public void DotRows_RowRangesAndTokenCounts_MatchesSingleRowDots(int rowCount, int n, int rowStart, int rowEnd, int tokens)
    {
        if (!Q8Octets.Supports(GgmlType.Q8_0, rowCount, n))
        {
            Console.WriteLine("skipped: the octet kernels need AVX2 and FMA");
            return;
        }
        var (rows, packed) = RandomMatrix(rowCount, n, 11 * rowCount + tokens);
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        var xBytes = TensorOps.ActivationSize(GgmlType.Q8_0, n);
        var xq = new byte[tokens * xBytes];
        var x = new float[tokens][];
        for (var j = 0; j < tokens; j++)
        {
            TensorOps.QuantizeActivations(GgmlType.Q8_0, Gaussian(n, 71 * j + 5), xq.AsSpan(j * xBytes, xBytes));
            x[j] = new float[n];
            TensorOps.DequantizeRow(GgmlType.Q8_0, xq.AsSpan(j * xBytes, xBytes), x[j]);
        }
        // Outputs in scattered rows of a wider matrix; the cells between stay untouched.
        var count = rowEnd - rowStart;
        var ld = count + 3;
        var outputs = new int[tokens];
        for (var j = 0; j < tokens; j++)
            outputs[j] = (tokens - 1 - j) * ld + 1;
        var y = new float[tokens * ld];
        Array.Fill(y, 42f);
        var expected = new float[tokens * ld];
        Array.Fill(expected, 42f);

        Q8Octets.DotRows(packed, rowCount, n, rowStart, rowEnd, xq, xBytes, tokens, y, outputs);
        Q8Octets.Reference(packed, n, rowStart, rowEnd, xq, xBytes, tokens, expected, outputs);

        var w = new float[n];
        for (var i = 0; i < count; i++)
        {
            TensorOps.DequantizeRow(GgmlType.Q8_0, rows.AsSpan((rowStart + i) * rowBytes, rowBytes), w);
            for (var j = 0; j < tokens; j++)
            {
                var at = outputs[j] + i;
                var m = Magnitude(w, x[j]);
                Assert.True(Math.Abs(expected[at] - y[at]) <= OctetVsReferenceTolerance * m,
                    $"row {rowStart + i} token {j}: expected {expected[at]}, got {y[at]} (magnitude {m:G3})");
            }
        }
        for (var k = 0; k < y.Length; k++)
            if (expected[k] == 42f)
                Assert.Equal(42f, y[k]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(16)]
    public void DotRows_MinusOneTwentyEightAgainstPlusMinusOneTwentySeven_IsExact(int tokens)
    {
        // The widest products the kernels meet: |w| = 128 from a stored -128 against activations of ±127; a group's pair sums reach
        // 2 x 128 x 127 = 32512, one more and a short would saturate.
        const int rowCount = 8, n = 96;
        if (!Q8Octets.Supports(GgmlType.Q8_0, rowCount, n))
            return;
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        var rows = new byte[rowCount * rowBytes];
        for (var b = 0; b < rowCount * n / 32; b++)
        {
            BitConverter.TryWriteBytes(rows.AsSpan(b * 34), (Half)1f);
            rows.AsSpan(b * 34 + 2, 32).Fill(0x80);
        }
        var packed = Repack(rows, rowCount, n);
        var xBytes = TensorOps.ActivationSize(GgmlType.Q8_0, n);
        var xq = new byte[tokens * xBytes];
        for (var j = 0; j < tokens; j++)
            for (var b = 0; b < n / 32; b++)
            {
                BitConverter.TryWriteBytes(xq.AsSpan(j * xBytes + b * 34), (Half)1f);
                // Token j: all +127, or (odd j) +127 and -127 in runs that leave a sum of zero per block.
                for (var k = 0; k < 32; k++)
                    xq[j * xBytes + b * 34 + 2 + k] = (byte)(sbyte)(j % 2 == 0 || k % 8 < 4 ? 127 : -127);
            }
        var outputs = new int[tokens];
        for (var j = 0; j < tokens; j++)
            outputs[j] = j * rowCount;
        var y = new float[tokens * rowCount];
        Q8Octets.DotRows(packed, rowCount, n, 0, rowCount, xq, xBytes, tokens, y, outputs);
        for (var j = 0; j < tokens; j++)
            for (var r = 0; r < rowCount; r++)
                Assert.Equal(j % 2 == 0 ? -128f * 127 * n : 0f, y[j * rowCount + r]);
    }

    [Theory]
    [InlineData(16, 576, 17)]
    [InlineData(8, 96, 33)]
    [InlineData(24, 1504, 64)]
    [InlineData(16, 32, 5)]
    public void DotOctets_PromptSizes_MatchesReference(int rowCount, int n, int tokens)
    {
        if (!Q8Octets.Supports(GgmlType.Q8_0, rowCount, n))
            return;
        var (rows, packed) = RandomMatrix(rowCount, n, 5 * tokens + n);
        var xBytes = TensorOps.ActivationSize(GgmlType.Q8_0, n);
        var xq = new byte[tokens * xBytes];
        for (var j = 0; j < tokens; j++)
            TensorOps.QuantizeActivations(GgmlType.Q8_0, Gaussian(n, 13 * j + 1), xq.AsSpan(j * xBytes, xBytes));
        var y = new float[tokens * rowCount];
        var expected = new float[tokens * rowCount];
        PanelKernels.DotOctets(packed, rowCount, xq, xBytes, tokens, n, y);
        MatMulKernels.DotRowsReference(GgmlType.Q8_0, rows, rowCount, xq, tokens, n, expected);
        // The same sums as the panel of the file's rows, so the same bound as the prompt tiles against the double reference.
        var rowBytes = TensorOps.RowSize(GgmlType.Q8_0, n);
        var panel = new float[tokens * rowCount];
        PanelKernels.DotRows(GgmlType.Q8_0, rows, rowBytes, rowCount, xq, xBytes, tokens, n, panel);
        Assert.Equal(panel, y);
        var w = new float[n];
        var x = new float[n];
        for (var j = 0; j < tokens; j++)
        {
            TensorOps.DequantizeRow(GgmlType.Q8_0, xq.AsSpan(j * xBytes, xBytes), x);
            for (var i = 0; i < rowCount; i++)
            {
                TensorOps.DequantizeRow(GgmlType.Q8_0, rows.AsSpan(i * rowBytes, rowBytes), w);
                var at = j * rowCount + i;
                Assert.True(Math.Abs(expected[at] - y[at]) <= OctetVsReferenceTolerance * Magnitude(w, x), $"row {i} token {j}: {expected[at]} vs {y[at]}");
            }
        }
    }

    [Fact]
    public void DotOctets_RowsNotWholeOctets_Throws()
    {
        var (_, packed) = RandomMatrix(16, 32, 1);
        var xq = new byte[34];
        Assert.Throws<ArgumentException>(() => PanelKernels.DotOctets(packed, 12, xq, 34, 1, 32, new float[12]));
        Assert.Throws<NotSupportedException>(() => Q8Octets.DotRows(packed, 12, 32, 0, 12, xq, 34, 1, new float[12], [0]));
    }
}
