using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;
using Xunit;
using static Basalt.Engine.Tests.Tensors.TensorTestData;

namespace Basalt.Engine.Tests.Tensors;

public sealed class SmallBatchKernelTests
{
    // The small-batch kernels scale each block's integer sums in float lanes where the reference reduces them per row first: the
    // difference is float rounding, measured against the sum of |w_k x_k| of the pair.
    private const double SmallBatchVsReferenceTolerance = 2e-5;

    private static readonly GgmlType[] Types = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K];

    public static TheoryData<GgmlType, int, int, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int, int, int>();
        foreach (var type in Types)
        {
            var block = TensorOps.BlockSize(type);
            // Odd row counts and token counts on both sides of the groups of four and eight, several block counts per row.
            data.Add(type, 7, 2, block == 256 ? 512 : 96);
            data.Add(type, 5, 3, block == 256 ? 256 : 32);
            data.Add(type, 9, 5, block == 256 ? 768 : 576);
            data.Add(type, 3, 16, block == 256 ? 1536 : 1504);
            // A group of eight (a full eight-sequence step), and eight followed by four, two and one.
            data.Add(type, 4, 8, block == 256 ? 512 : 160);
            data.Add(type, 11, 15, block == 256 ? 256 : 224);
            // Whole groups of eight rows (rows as lanes for the 32-weight types), one with rows left over, rows longer than one
            // unpacked chunk of blocks, and token counts that leave 1, 2 and 3 tokens after the groups of four.
            data.Add(type, 16, 8, block == 256 ? 512 : 576);
            data.Add(type, 19, 7, block == 256 ? 1536 : 1504);
            data.Add(type, 24, 4, block == 256 ? 256 : 2080);
            data.Add(type, 8, 13, block == 256 ? 768 : 1056);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DotRows_OddShapes_MatchesSingleRowDots(GgmlType type, int rowCount, int tokens, int n)
    {
        if (!SmallBatchKernels.Supports(type, n))
        {
            Console.WriteLine($"skipped: the small-batch kernels need AVX2 and FMA ({type})");
            return;
        }
        var rowBytes = TensorOps.RowSize(type, n);
        var dense = new float[rowCount][];
        var rows = new byte[rowCount * rowBytes];
        for (var i = 0; i < rowCount; i++)
        {
            dense[i] = Gaussian(n, 31 * i + n, 0.05f);
            TensorOps.QuantizeRow(type, dense[i], rows.AsSpan(i * rowBytes, rowBytes));
            dense[i] = Decode(type, rows.AsSpan(i * rowBytes, rowBytes).ToArray(), n);
        }
        var xBytes = TensorOps.ActivationSize(type, n);
        var xq = new byte[tokens * xBytes];
        var x = new float[tokens][];
        for (var j = 0; j < tokens; j++)
        {
            x[j] = Gaussian(n, 71 * j + 5);
            TensorOps.QuantizeActivations(type, x[j], xq.AsSpan(j * xBytes, xBytes));
        }
        // Outputs in scattered rows of a wider matrix, as the logits rows of a step are; the cells between stay untouched.
        var ld = rowCount + 3;
        var outputs = new int[tokens];
        for (var j = 0; j < tokens; j++)
            outputs[j] = (tokens - 1 - j) * ld + 1;
        var y = new float[tokens * ld];
        Array.Fill(y, 42f);
        var expected = new float[tokens * ld];
        Array.Fill(expected, 42f);

        SmallBatchKernels.DotRows(type, rows, rowCount, xq, xBytes, tokens, n, y, outputs);
        SmallBatchKernels.Reference(type, rows, rowCount, xq, xBytes, tokens, n, expected, outputs);

        for (var j = 0; j < tokens; j++)
            for (var i = 0; i < rowCount; i++)
            {
                var at = outputs[j] + i;
                var m = Magnitude(dense[i], x[j]);
                Assert.True(Math.Abs(expected[at] - y[at]) <= SmallBatchVsReferenceTolerance * m,
                    $"{type} row {i} token {j}: expected {expected[at]}, got {y[at]} (magnitude {m:G3})");
            }
        for (var k = 0; k < y.Length; k++)
            if (expected[k] == 42f)
                Assert.Equal(42f, y[k]);
    }

    [Fact]
    public void DotRows_RandomBlockBits_MatchesSingleRowDots()
    {
        // Every quant bit pattern (Q8_0's -128 included), not only what our quantizer writes.
        foreach (var type in Types)
        {
            const int tokens = 7, rowCount = 11;
            var n = TensorOps.BlockSize(type) == 256 ? 512 : 160;
            var rowBytes = TensorOps.RowSize(type, n);
            var rows = RandomBlocks(type, rowCount * n / TensorOps.BlockSize(type), 97);
            var xBytes = TensorOps.ActivationSize(type, n);
            var xq = new byte[tokens * xBytes];
            for (var j = 0; j < tokens; j++)
                TensorOps.QuantizeActivations(type, Gaussian(n, 13 + j), xq.AsSpan(j * xBytes, xBytes));
            int[] outputs = [0, 11, 22, 33, 44, 55, 66];
            var y = new float[77];
            var expected = new float[77];
            SmallBatchKernels.DotRows(type, rows, rowCount, xq, xBytes, tokens, n, y, outputs);
            SmallBatchKernels.Reference(type, rows, rowCount, xq, xBytes, tokens, n, expected, outputs);
            for (var k = 0; k < y.Length; k++)
                Assert.True(Math.Abs(expected[k] - y[k]) <= 1e-4 * Math.Max(1, Math.Abs(expected[k])), $"{type} cell {k}: expected {expected[k]}, got {y[k]}");
        }
    }

    // Every weight at its largest magnitude (Q8_0 -128, Q5_0 -16, Q4_0 -8) against activations all 127 or all -127, block scales 1: the
    // rows-as-lanes octets add int16 pair products over a run of groups (up to 32,512), and the sums are integers below 2^24, so the
    // kernel must give exactly the reference's values; a saturated or wrapped run would not.
    [Theory]
    [InlineData(GgmlType.Q8_0, 4)]
    [InlineData(GgmlType.Q8_0, 8)]
    [InlineData(GgmlType.Q5_0, 4)]
    [InlineData(GgmlType.Q5_0, 8)]
    [InlineData(GgmlType.Q4_0, 4)]
    [InlineData(GgmlType.Q4_0, 8)]
    public void DotRows_ExtremeWeightsAndActivations_SumWithoutSaturating(GgmlType type, int tokens)
    {
        const int n = 256, rowCount = 16;
        var blockBytes = GgmlTypes.BlockBytes(type);
        var rows = new byte[rowCount * n / 32 * blockBytes];
        for (var b = 0; b < rows.Length / blockBytes; b++)
        {
            var blk = rows.AsSpan(b * blockBytes, blockBytes);
            blk.Fill(type == GgmlType.Q8_0 ? (byte)0x80 : (byte)0x00);
            BitConverter.TryWriteBytes(blk, (Half)1);
        }
        var xBytes = TensorOps.ActivationSize(type, n);
        var xq = new byte[tokens * xBytes];
        for (var j = 0; j < tokens; j++)
            for (var b = 0; b < n / 32; b++)
            {
                var blk = xq.AsSpan(j * xBytes + b * 34, 34);
                blk.Fill(j % 2 == 0 ? (byte)127 : (byte)0x81);
                BitConverter.TryWriteBytes(blk, (Half)1);
            }
        var outputs = Enumerable.Range(0, tokens).Select(j => j * rowCount).ToArray();
        var y = new float[tokens * rowCount];
        var expected = new float[tokens * rowCount];
        SmallBatchKernels.DotRows(type, rows, rowCount, xq, xBytes, tokens, n, y, outputs);
        SmallBatchKernels.Reference(type, rows, rowCount, xq, xBytes, tokens, n, expected, outputs);
        Assert.All(expected, e => Assert.NotEqual(0f, e));
        Assert.Equal(expected, y);
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 2)]
    [InlineData(GgmlType.Q8_0, 3)]
    [InlineData(GgmlType.Q5_0, 3)]
    [InlineData(GgmlType.Q4_0, 2)]
    [InlineData(GgmlType.Q4_K, 2)]
    [InlineData(GgmlType.Q6_K, 2)]
    public void DotRows_FewTokens_EqualsOneTokenDecodeExactly(GgmlType type, int tokens)
    {
        // Two or three sequences decoding together get exactly what each would get decoding alone.
        if (!SmallBatchKernels.Supports(type, 512))
        {
            Console.WriteLine($"skipped: the small-batch kernels need AVX2 and FMA ({type})");
            return;
        }
        const int n = 512, rowCount = 13;
        var rowBytes = TensorOps.RowSize(type, n);
        var rows = new byte[rowCount * rowBytes];
        for (var i = 0; i < rowCount; i++)
            TensorOps.QuantizeRow(type, Gaussian(n, 17 * i + 3, 0.05f), rows.AsSpan(i * rowBytes, rowBytes));
        var xBytes = TensorOps.ActivationSize(type, n);
        var xq = new byte[tokens * xBytes];
        for (var j = 0; j < tokens; j++)
            TensorOps.QuantizeActivations(type, Gaussian(n, 29 * j + 1), xq.AsSpan(j * xBytes, xBytes));
        var outputs = new int[tokens];
        for (var j = 0; j < tokens; j++)
            outputs[j] = (tokens - 1 - j) * rowCount;
        var y = new float[tokens * rowCount];

        SmallBatchKernels.DotRows(type, rows, rowCount, xq, xBytes, tokens, n, y, outputs);

        for (var j = 0; j < tokens; j++)
        {
            var alone = new float[rowCount];
            RowKernels.DotQ8(type, rows, rowCount, xq.AsSpan(j * xBytes, xBytes), n, alone);
            Assert.Equal(alone, y.AsSpan(outputs[j], rowCount).ToArray());
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0, 8, true)]
    [InlineData(GgmlType.Q5_0, 3, true)]
    [InlineData(GgmlType.Q4_K, 2, true)]
    [InlineData(GgmlType.Q4_K, 3, false)]
    [InlineData(GgmlType.Q6_K, 8, false)]
    [InlineData(GgmlType.Q8_0, 1, false)]
    [InlineData(GgmlType.Q8_0, 17, false)]
    public void Prefers_TokenCounts_RoutesKQuantsFromThreeTokensToTheTiles(GgmlType type, int tokens, bool expected)
    {
        if (!SmallBatchKernels.Supports(type, 512))
        {
            Console.WriteLine($"skipped: the small-batch kernels need AVX2 and FMA ({type})");
            return;
        }
        Assert.Equal(expected, SmallBatchKernels.Prefers(type, 512, tokens));
    }
}
