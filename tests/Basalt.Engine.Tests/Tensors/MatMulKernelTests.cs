using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Tests.Tensors;

public sealed class MatMulKernelTests
{
    // The tiled kernels multiply float block scales where the reference widens everything to double: differences are float rounding,
    // measured against the sum of |w_k x_k| of each pair (the size of the terms being added).
    private const double TiledVsReferenceTolerance = 2e-5;
    // Prepared side information against the reference, relative to 1 + |expected| (Gaussian rows of 96 give dots of order 10).
    private const double PreparedVsReferenceTolerance = 1e-4;

    public static TheoryData<GgmlType, int, int, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int, int, int>();
        foreach (var type in TensorTestData.SupportedTypes)
        {
            var block = TensorOps.BlockSize(type);
            // Odd row and token counts exercise the ragged edges of the 8-row x 4-token tiles; several block counts per row.
            data.Add(type, 7, 5, block == 256 ? 512 : 96);
            data.Add(type, 1, 1, block == 256 ? 256 : 32);
            data.Add(type, 16, 13, block == 256 ? 768 : 576);
            // More tokens than one engine token group, an odd number of rows.
            data.Add(type, 33, 70, block == 256 ? 256 : 64);
            // Rows not a multiple of the 8-row tile on both sides of it, token counts around the 4-token tile.
            data.Add(type, 9, 3, block == 256 ? 256 : 160);
            data.Add(type, 23, 6, block == 256 ? 512 : 64);
            // Rows past a group of eight and tokens past a group of four and a chunk of 64 (the K-quant kernel's edges).
            data.Add(type, 9, 67, block == 256 ? 512 : 64);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DotQ8Rows_OddShapes_MatchesScalarReference(GgmlType type, int rowCount, int tokens, int n)
    {
        var rowBytes = TensorOps.RowSize(type, n);
        var rows = new byte[rowCount * rowBytes];
        var dense = new float[rowCount][];
        for (var i = 0; i < rowCount; i++)
        {
            TensorOps.QuantizeRow(type, TensorTestData.Gaussian(n, 100 + i), rows.AsSpan(i * rowBytes, rowBytes));
            dense[i] = new float[n];
            TensorOps.DequantizeRow(type, rows.AsSpan(i * rowBytes, rowBytes), dense[i]);
        }
        var xBytes = TensorOps.ActivationSize(type, n);
        var xq = new byte[tokens * xBytes];
        var xs = new float[tokens][];
        for (var j = 0; j < tokens; j++)
        {
            xs[j] = TensorTestData.Gaussian(n, 900 + j, sigma: 3f);
            TensorOps.QuantizeActivations(type, xs[j], xq.AsSpan(j * xBytes, xBytes));
        }

        var actual = new float[tokens * rowCount];
        TensorOps.DotQ8Rows(type, rows, rowCount, xq, tokens, n, actual);
        var expected = new float[tokens * rowCount];
        MatMulKernels.DotRowsReference(type, rows, rowCount, xq, tokens, n, expected);

        for (var j = 0; j < tokens; j++)
            for (var i = 0; i < rowCount; i++)
            {
                var magnitude = 0.0;
                for (var k = 0; k < n; k++)
                    magnitude += Math.Abs(dense[i][k] * xs[j][k]);
                var diff = Math.Abs(actual[j * rowCount + i] - expected[j * rowCount + i]);
                Assert.True(diff <= TiledVsReferenceTolerance * magnitude,
                    $"{type} row {i} token {j}: {actual[j * rowCount + i]} vs reference {expected[j * rowCount + i]} (|w||x| {magnitude:G4})");
            }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q5_1)]
    public void DotRows_SideInformationPreparedOncePerBatch_MatchesScalarReferenceForALaterTokenGroup(GgmlType type)
    {
        // The engine prepares the activations' block scales and sums once for the whole batch, then hands each tile the slices of one
        // token group: here tokens [64, 77) of 77, so the slices start past the first group and end in padding.
        const int n = 96, rowCount = 5, tokens = 77, first = 64;
        var rowBytes = TensorOps.RowSize(type, n);
        var rows = new byte[rowCount * rowBytes];
        for (var i = 0; i < rowCount; i++)
            TensorOps.QuantizeRow(type, TensorTestData.Gaussian(n, 300 + i), rows.AsSpan(i * rowBytes, rowBytes));
        var xBytes = TensorOps.ActivationSize(type, n);
        var xq = new byte[tokens * xBytes];
        var info = new float[PanelKernels.InfoLength(tokens, n)];
        for (var j = 0; j < tokens; j++)
        {
            TensorOps.QuantizeActivations(type, TensorTestData.Gaussian(n, 700 + j, sigma: 2f), xq.AsSpan(j * xBytes, xBytes));
            PanelKernels.PrepareToken(xq.AsSpan(j * xBytes, xBytes), n, j, tokens, info);
        }
        PanelKernels.ClearPadding(n, tokens, info);
        var nb = n / 32;
        var group = tokens - first;
        var actual = new float[group * rowCount];
        MatMulKernels.DotRows(type, rows, rowBytes, rowCount, xq.AsSpan(first * xBytes), xBytes, group, n, actual,
            info.AsSpan(first * nb), info.AsSpan((PanelKernels.PaddedTokens(tokens) + first) * nb));
        var expected = new float[group * rowCount];
        MatMulKernels.DotRowsReference(type, rows, rowCount, xq.AsSpan(first * xBytes), group, n, expected);
        for (var k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(actual[k] - expected[k]) <= PreparedVsReferenceTolerance * (1 + Math.Abs(expected[k])),
                $"{type} output {k}: {actual[k]} vs reference {expected[k]}");
    }

    // Every value at its extreme, scales 1: the sums are integers far below 2^24, so the kernel must give them exactly (no int16 saturation).
    private const double ExtremeValuesTolerance = 0;

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q5_1)]
    public void DotQ8Rows_ExtremeWeightsAndActivations_SumWithoutSaturating(GgmlType type)
    {
        // The lanes-as-rows kernels add the int16 pair products of several 4-byte groups before widening them: 8 groups of 4-bit weights,
        // 4 of 5-bit ones. Weights at their largest stored value (nibbles 15, high bits set: 31; Q8_0 -128, whose |w| is 128) against activations of 127 and
        // -127 reach those bounds in every lane.
        const int n = 256, rowCount = 11, tokens = 6;
        var rowBytes = TensorOps.RowSize(type, n);
        var rows = new byte[rowCount * rowBytes];
        var blockBytes = rowBytes / (n / 32);
        for (var b = 0; b < rows.Length / blockBytes; b++)
        {
            var blk = rows.AsSpan(b * blockBytes, blockBytes);
            blk.Fill(type == GgmlType.Q8_0 ? (byte)0x80 : (byte)0xFF);
            BitConverter.TryWriteBytes(blk, (Half)1);
            if (type == GgmlType.Q5_1)
                BitConverter.TryWriteBytes(blk[2..], (Half)(-3));
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

        var actual = new float[tokens * rowCount];
        TensorOps.DotQ8Rows(type, rows, rowCount, xq, tokens, n, actual);
        var expected = new float[tokens * rowCount];
        MatMulKernels.DotRowsReference(type, rows, rowCount, xq, tokens, n, expected);

        for (var k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(actual[k] - expected[k]) <= ExtremeValuesTolerance * Math.Abs(expected[k]),
                $"{type} output {k}: {actual[k]} vs reference {expected[k]}");
    }

    public static TheoryData<GgmlType, int, int> ExtremeKQuants()
    {
        // Weight bytes (0xFF: every value at its top, 0x00: at its bottom, -1: random bits), activation bytes (0x81 = -127, 0x7F = 127,
        // -1: random; Q8_K activations are quantized to [-127, 127]): the largest int16 run sums each K-quant kernel can meet, and every
        // scale/min bit pattern.
        var data = new TheoryData<GgmlType, int, int>();
        foreach (var type in new[] { GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
        {
            data.Add(type, 0xFF, 0x81);
            data.Add(type, 0xFF, 0x7F);
            data.Add(type, 0x00, 0x81);
            data.Add(type, 0x00, 0x7F);
            data.Add(type, -1, -1);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ExtremeKQuants))]
    public void DotQ8Rows_ExtremeKQuantValues_MatchesScalarReference(GgmlType type, int weightByte, int activationByte)
    {
        const int n = 512, rowCount = 11, tokens = 6;
        var rowBytes = TensorOps.RowSize(type, n);
        var rows = TensorTestData.RandomBlocks(type, rowCount * n / 256, 40 + weightByte);
        if (weightByte >= 0)
            for (var b = 0; b < rows.Length / GgmlTypes.BlockBytes(type); b++)
            {
                // Every value and scale byte set, the block's halves kept: Q6_K's scales at 0xFF are -1, so its extreme uses -128.
                var blk = rows.AsSpan(b * GgmlTypes.BlockBytes(type), GgmlTypes.BlockBytes(type));
                if (type == GgmlType.Q6_K)
                {
                    blk[..192].Fill((byte)weightByte);
                    blk[192..208].Fill(0x80);
                }
                else
                    blk[4..].Fill((byte)weightByte);
                if (type != GgmlType.Q6_K && weightByte == 0)
                    blk[4..16].Fill(0xFF);
            }
        var xBytes = TensorOps.ActivationSize(type, n);
        var xq = new byte[tokens * xBytes];
        var rng = new Random(7);
        for (var j = 0; j < tokens; j++)
            for (var sb = 0; sb < n / 256; sb++)
            {
                var blk = xq.AsSpan(j * xBytes + sb * 292, 292);
                BitConverter.TryWriteBytes(blk, 0.01f * (j + 1));
                for (var g = 0; g < 16; g++)
                {
                    var sum = 0;
                    for (var k = 0; k < 16; k++)
                    {
                        var q = activationByte >= 0 ? (sbyte)activationByte : (sbyte)rng.Next(-127, 128);
                        blk[4 + 16 * g + k] = (byte)q;
                        sum += q;
                    }
                    BitConverter.TryWriteBytes(blk[(260 + 2 * g)..], (short)sum);
                }
            }

        var actual = new float[tokens * rowCount];
        TensorOps.DotQ8Rows(type, rows, rowCount, xq, tokens, n, actual);
        var expected = new float[tokens * rowCount];
        MatMulKernels.DotRowsReference(type, rows, rowCount, xq, tokens, n, expected);

        var w = new float[n];
        for (var i = 0; i < rowCount; i++)
        {
            TensorOps.DequantizeRow(type, rows.AsSpan(i * rowBytes, rowBytes), w);
            for (var j = 0; j < tokens; j++)
            {
                var magnitude = 0.0;
                for (var k = 0; k < n; k++)
                    magnitude += Math.Abs(w[k] * 0.01 * (j + 1) * (sbyte)xq[j * xBytes + k / 256 * 292 + 4 + k % 256]);
                var diff = Math.Abs(actual[j * rowCount + i] - expected[j * rowCount + i]);
                Assert.True(diff <= TiledVsReferenceTolerance * magnitude,
                    $"{type} row {i} token {j}: {actual[j * rowCount + i]} vs reference {expected[j * rowCount + i]} (|w||x| {magnitude:G4})");
            }
        }
    }

    [Fact]
    public void DotQ8Rows_ShortActivationBuffer_ThrowsNamingTheSize()
    {
        var rows = new byte[TensorOps.RowSize(GgmlType.Q8_0, 64) * 2];
        var xq = new byte[TensorOps.ActivationSize(GgmlType.Q8_0, 64)];
        var e = Assert.Throws<ArgumentException>(() => TensorOps.DotQ8Rows(GgmlType.Q8_0, rows, 2, xq, 2, 64, new float[4]));
        Assert.Contains("activation rows", e.Message);
    }
}
