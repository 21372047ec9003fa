using System.Buffers.Binary;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;
using static Basalt.Engine.Tests.Tensors.TensorTestData;

namespace Basalt.Engine.Tests.Tensors;

public sealed class QuantizationTests
{
    // The tile and small-batch kernels take |x| by vpsignb and bound their int16 runs assuming no activation is -128: a block whose
    // largest magnitude is negative must map it to -127 (a -128-based rule, as Q4_0 weights use, would break those kernels).
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void QuantizeActivations_DominantNegativeValue_MapsToMinusQ8Limit(GgmlType weightType)
    {
        const int n = 512;
        var x = Gaussian(n, 5);
        for (var k = 0; k < n; k += 32)
            x[k] = -1000f;
        var xq = new byte[TensorOps.ActivationSize(weightType, n)];
        TensorOps.QuantizeActivations(weightType, x, xq);
        var blockSize = TensorOps.ActivationType(weightType) == GgmlType.Q8_K ? 256 : 32;
        var (header, blockBytes) = blockSize == 256 ? (Q8KBlock.Qs, Q8KBlock.Bytes) : (Q8_0Block.Qs, Q8_0Block.Bytes);
        for (var b = 0; b < n / blockSize; b++)
        {
            var q = xq.AsSpan(b * blockBytes + header, blockSize).ToArray().Select(v => (int)(sbyte)v).ToArray();
            Assert.Equal(-Quantize.Q8Limit, q.Min());
            Assert.All(q, v => Assert.InRange(v, -Quantize.Q8Limit, Quantize.Q8Limit));
        }
    }

    [Fact]
    public void BlockLayouts_AgreeWithTypeTable()
    {
        Assert.Equal(Q8_0Block.Bytes, GgmlTypes.BlockBytes(GgmlType.Q8_0));
        Assert.Equal(Q4_0Block.Bytes, GgmlTypes.BlockBytes(GgmlType.Q4_0));
        Assert.Equal(Q5_0Block.Bytes, GgmlTypes.BlockBytes(GgmlType.Q5_0));
        Assert.Equal(Q5_1Block.Bytes, GgmlTypes.BlockBytes(GgmlType.Q5_1));
        Assert.Equal(Q5_0Block.Qs + 16, Q5_0Block.Bytes);
        Assert.Equal(Q5_1Block.Qs + 16, Q5_1Block.Bytes);
        Assert.Equal(Q4KBlock.Bytes, GgmlTypes.BlockBytes(GgmlType.Q4_K));
        Assert.Equal(Q5KBlock.Bytes, GgmlTypes.BlockBytes(GgmlType.Q5_K));
        Assert.Equal(Q6KBlock.Bytes, GgmlTypes.BlockBytes(GgmlType.Q6_K));
        Assert.Equal(Q8KBlock.Bytes, GgmlTypes.BlockBytes(GgmlType.Q8_K));
        Assert.Equal(Q4KBlock.Qs + 128, Q4KBlock.Bytes);
        Assert.Equal(Q5KBlock.Qs + 128, Q5KBlock.Bytes);
        Assert.Equal(Q6KBlock.D + 2, Q6KBlock.Bytes);
    }

    // Relative RMS error bounds of dequantize(quantize(x)) on N(0,1) data. A uniform quantizer with step Δ has RMS error Δ/√12;
    // each bound is that estimate for the type's step on Gaussian blocks, with headroom for scale rounding.
    [Theory]
    [InlineData(GgmlType.F32, 0.0)]
    [InlineData(GgmlType.F16, 0.001)]   // 11-bit mantissa
    [InlineData(GgmlType.BF16, 0.005)]  // 8-bit mantissa
    [InlineData(GgmlType.Q8_0, 0.01)]   // Δ = max|x|/127 ≈ 0.017
    [InlineData(GgmlType.Q4_0, 0.12)]   // Δ = max|x|/8 ≈ 0.27
    [InlineData(GgmlType.Q5_0, 0.06)]   // Δ = max|x|/16 ≈ 0.14
    [InlineData(GgmlType.Q5_1, 0.06)]   // Δ = range/31 ≈ 0.14
    [InlineData(GgmlType.Q4_K, 0.12)]   // Δ = range/15 ≈ 0.29
    [InlineData(GgmlType.Q5_K, 0.06)]   // Δ = range/31 ≈ 0.14
    [InlineData(GgmlType.Q6_K, 0.035)]  // Δ = max|x|/31 over 16 values ≈ 0.06
    public void QuantizeRow_GaussianData_DequantizesWithinTypeBound(GgmlType type, double bound)
    {
        const int n = 4096;
        var x = Gaussian(n, seed: 11);
        var y = Decode(type, Encode(type, x), n);
        double err = 0, norm = 0;
        for (var i = 0; i < n; i++)
        {
            err += (x[i] - y[i]) * (double)(x[i] - y[i]);
            norm += x[i] * (double)x[i];
        }
        var rel = Math.Sqrt(err / norm);
        Assert.True(rel <= bound, $"{type}: relative RMS error {rel:G4} exceeds {bound}");
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q5_1)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void QuantizeRow_ZerosAndConstantBlocks_StayFinite(GgmlType type)
    {
        var x = new float[512];
        Array.Fill(x, 3f, 256, 256);
        var y = Decode(type, Encode(type, x), x.Length);
        for (var i = 0; i < 256; i++)
            Assert.Equal(0f, y[i]);
        for (var i = 256; i < 512; i++)
            Assert.InRange(y[i], 2.7f, 3.3f);
    }

    private static void Half(Span<byte> b, int at, float v) => BinaryPrimitives.WriteUInt16LittleEndian(b[at..], BitConverter.HalfToUInt16Bits((Half)v));

    // Known-answer blocks built byte by byte from ggml's documented layouts, independent of our quantizers.
    [Fact]
    public void DequantizeRow_HandBuiltQ8_0AndQ4_0_DecodeDocumentedElements()
    {
        var q8 = new byte[34];
        Half(q8, 0, 0.5f);
        q8[2 + 3] = unchecked((byte)-4);
        var y = Decode(GgmlType.Q8_0, q8, 32);
        Assert.Equal(-2f, y[3]);
        Assert.Equal(0f, y[4]);

        var q4 = new byte[18];
        Half(q4, 0, 2f);
        for (var j = 0; j < 16; j++)
            q4[2 + j] = 0x88; // zero
        q4[2 + 1] = 0x3A;
        y = Decode(GgmlType.Q4_0, q4, 32);
        Assert.Equal(2f * (0xA - 8), y[1]);
        Assert.Equal(2f * (0x3 - 8), y[17]);
        Assert.Equal(0f, y[0]);
    }

    [Fact]
    public void DequantizeRow_HandBuiltQ5_0AndQ5_1_TakeFifthBitFromQh()
    {
        var q5 = new byte[22];
        Half(q5, 0, 0.5f);
        for (var j = 0; j < 16; j++)
            q5[6 + j] = 0x00;
        q5[6 + 2] = 0x4A;                    // element 2: low nibble 0xA; element 18: high nibble 4
        BinaryPrimitives.WriteUInt32LittleEndian(q5.AsSpan(2), (1u << 2) | (1u << 31));
        var y = Decode(GgmlType.Q5_0, q5, 32);
        Assert.Equal(0.5f * (0x1A - 16), y[2]);
        Assert.Equal(0.5f * (0x4 - 16), y[18]);  // bit 18 clear
        Assert.Equal(0.5f * (0x10 - 16), y[31]); // nibble 0, bit 31 set
        Assert.Equal(0.5f * -16, y[0]);

        var q51 = new byte[24];
        Half(q51, 0, 2f);
        Half(q51, 2, -1f);
        q51[8 + 5] = 0x70;                   // element 21: high nibble 7
        BinaryPrimitives.WriteUInt32LittleEndian(q51.AsSpan(4), 1u << 21);
        y = Decode(GgmlType.Q5_1, q51, 32);
        Assert.Equal(2f * 0x17 - 1f, y[21]);
        Assert.Equal(-1f, y[5]);
    }

    [Fact]
    public void DequantizeRow_HandBuiltQ4_K_UsesPackedSixBitScalesAndNibbleOrder()
    {
        var b = new byte[144];
        Half(b, 0, 1f);   // d
        Half(b, 2, 1f);   // dmin
        var sc = b.AsSpan(4, 12);
        sc[1] = 2 | 0x40;   // sub-block 1 scale 2; top bits carry sub-block 5's scale bit 4
        sc[5] = 3 | 0x80;   // sub-block 1 min 3; top bits carry sub-block 5's min bit 5
        sc[9] = 0x21;       // sub-block 5: scale low nibble 1, min low nibble 2
        b[16 + 0] = 0x70;   // element 0 (sub-block 0, low nibble 0) and element 32 (sub-block 1, high nibble 7)
        b[16 + 64] = 0x50;  // element 160 = 64*2+32: sub-block 5, high nibble 5
        var y = Decode(GgmlType.Q4_K, b, 256);
        Assert.Equal(2f * 7 - 3, y[32]);
        Assert.Equal(-3f, y[33]);            // q = 0 in sub-block 1
        Assert.Equal((16 + 1) * 5f - (32 + 2), y[160]);
        Assert.Equal(0f, y[0]);              // sub-block 0 has scale 0 and min 0
    }

    [Fact]
    public void DequantizeRow_HandBuiltQ5_K_AddsHighBitFromQh()
    {
        var b = new byte[176];
        Half(b, 0, 1f);
        Half(b, 2, 1f);
        b[4 + 3] = 1;       // sub-block 3 scale 1
        b[4 + 7] = 4;       // sub-block 3 min 4
        b[48 + 32 + 1] = 0x60; // element 97 = 64*1+32+1: high nibble of qs[33] = 6
        b[16 + 1] = 1 << 3;    // bit 3 of qh[1]: the fifth bit of element 97
        var y = Decode(GgmlType.Q5_K, b, 256);
        Assert.Equal(16 + 6 - 4f, y[97]);
        Assert.Equal(-4f, y[96]);
    }

    [Fact]
    public void DequantizeRow_HandBuiltQ6_K_CombinesQlQhAndSignedScales()
    {
        var b = new byte[210];
        Half(b, 208, 1f);
        for (var s = 0; s < 16; s++)
            b[192 + s] = unchecked((byte)(sbyte)(s - 8));
        // Element 200: half 1, group k=2 (high nibble of ql[64+8]), qh[32+8] bits 4-5, scale 200/16 = 12.
        b[64 + 8] = 0x90;
        b[128 + 32 + 8] = 2 << 4;
        // Element 5: half 0, group 0 (low nibble of ql[5]), qh[5] bits 0-1, scale 0.
        b[5] = 0x0F;
        b[128 + 5] = 3;
        var y = Decode(GgmlType.Q6_K, b, 256);
        Assert.Equal((12 - 8) * ((9 | (2 << 4)) - 32f), y[200]);
        Assert.Equal((0 - 8) * ((0xF | (3 << 4)) - 32f), y[5]);
        Assert.Equal((0 - 8) * -32f, y[0]);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q5_1)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void QuantizeRow_RandomBlocks_ReencodeDecodesClose(GgmlType type)
    {
        // Decoding arbitrary blocks, re-encoding and decoding again must reproduce them within the type's step: the encoder and decoder agree on the layout.
        var n = GgmlTypes.BlockSize(type) * 4;
        var y = Decode(type, RandomBlocks(type, 4, seed: 5), n);
        var z = Decode(type, Encode(type, y), n);
        double err = 0, norm = 0;
        for (var i = 0; i < n; i++)
        {
            err += (y[i] - z[i]) * (double)(y[i] - z[i]);
            norm += y[i] * (double)y[i];
        }
        Assert.True(Math.Sqrt(err / norm) < 0.2, $"{type}: re-encoding error {Math.Sqrt(err / norm):G3}");
    }

    [Fact]
    public void QuantizeRow_Bf16_RoundsToNearestEvenAndKeepsNaN()
    {
        Assert.Equal(0x3f80, Quantize.FloatToBf16(1f));
        Assert.Equal(0x3f80, Quantize.FloatToBf16(BitConverter.UInt32BitsToSingle(0x3f808000))); // tie → even
        Assert.Equal(0x3f82, Quantize.FloatToBf16(BitConverter.UInt32BitsToSingle(0x3f818000))); // tie → even (up)
        Assert.True(float.IsNaN(BitConverter.Int32BitsToSingle(Quantize.FloatToBf16(float.NaN) << 16)));
    }

    [Fact]
    public void TensorOps_UnsupportedTypeOrWrongLength_ThrowsClearErrors()
    {
        var e = Assert.Throws<NotSupportedException>(() => TensorOps.DequantizeRow(GgmlType.Q2_K, new byte[84], new float[256]));
        Assert.Contains("Q2_K is not supported", e.Message);
        Assert.Throws<ArgumentException>(() => TensorOps.Dot(GgmlType.Q8_0, new byte[33], new float[32]));
        Assert.Throws<ArgumentException>(() => TensorOps.Dot(GgmlType.Q8_0, new byte[34], new float[31]));
        Assert.Throws<ArgumentException>(() => TensorOps.DotQ8(GgmlType.Q4_K, new byte[144], new byte[10], 256));
    }
}
