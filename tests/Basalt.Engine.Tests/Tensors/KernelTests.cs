using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;
using static Basalt.Engine.Tests.Tensors.TensorTestData;

namespace Basalt.Engine.Tests.Tensors;

/// <summary>Every SIMD path against its scalar reference on seeded random inputs of odd lengths.</summary>
public sealed class KernelTests
{
    /// <summary>Float paths sum in a different order than the scalar loop: allowed error relative to Σ|a·b|.</summary>
    private const double FloatReorderTolerance = 1e-5;

    /// <summary>Integer paths agree exactly on the integer sums; only the float scaling and the order of block sums differ.</summary>
    private const double IntegerPathTolerance = 1e-5;

    /// <summary>Quantizing activations to 8 bits moves each product by at most |w|·max|x|/254 per block: bound on |DotQ8 − Dot| relative to Σ|w·x|.</summary>
    private const double ActivationQuantizationTolerance = 0.02;

    /// <summary>Dot against the exact double-precision dot of the decoded row, relative to Σ|w·x|.</summary>
    private const double DecodedDotTolerance = 1e-5;

    private static readonly int[] OddLengths = [1, 3, 7, 15, 17, 33, 100, 257, 1023];
    // 18: a 576-wide row of 32-weight blocks (two groups of eight and a tail); 17 and 25 leave one block over.
    private static readonly int[] OddBlockCounts = [1, 2, 3, 7, 13, 17, 18, 25];

    private static void Close(double expected, double actual, double magnitude, double tolerance, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(magnitude, 1e-30),
            $"{what}: expected {expected}, got {actual} (difference {Math.Abs(expected - actual):G3}, magnitude {magnitude:G3})");

    private static bool Skip(bool supported, string path)
    {
        if (!supported)
            Console.WriteLine($"SKIPPED ({path} not supported by this CPU)");
        return !supported;
    }

    [Fact]
    public void DotF32_VectorPaths_MatchScalarAtOddLengths()
    {
        foreach (var n in OddLengths)
        {
            var a = Gaussian(n, n);
            var b = Gaussian(n, n + 1);
            var reference = FloatKernels.DotF32Scalar(a, b);
            var m = Magnitude(a, b);
            Close(reference, FloatKernels.DotF32V256(a, b), m, FloatReorderTolerance, $"V256 n={n}");
            Close(reference, FloatKernels.DotF32(a, b), m, FloatReorderTolerance, $"dispatch n={n}");
            if (!Skip(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, "Vector512"))
                Close(reference, FloatKernels.DotF32V512(a, b), m, FloatReorderTolerance, $"V512 n={n}");
        }
    }

    [Fact]
    public void DotF16AndBF16_VectorPaths_MatchScalarAtOddLengths()
    {
        foreach (var n in OddLengths)
        {
            var w = Gaussian(n, 3 * n);
            var x = Gaussian(n, 3 * n + 1);
            var h = MemoryMarshal.Cast<byte, ushort>(Encode(GgmlType.F16, w)).ToArray();
            var bf = MemoryMarshal.Cast<byte, ushort>(Encode(GgmlType.BF16, w)).ToArray();
            var m = Magnitude(w, x);
            Close(FloatKernels.DotF16Scalar(h, x), FloatKernels.DotF16V256(h, x), m, FloatReorderTolerance, $"F16 V256 n={n}");
            Close(FloatKernels.DotBF16Scalar(bf, x), FloatKernels.DotBF16V256(bf, x), m, FloatReorderTolerance, $"BF16 V256 n={n}");
            if (!Skip(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, "Vector512"))
            {
                Close(FloatKernels.DotF16Scalar(h, x), FloatKernels.DotF16V512(h, x), m, FloatReorderTolerance, $"F16 V512 n={n}");
                Close(FloatKernels.DotBF16Scalar(bf, x), FloatKernels.DotBF16V512(bf, x), m, FloatReorderTolerance, $"BF16 V512 n={n}");
            }
        }
    }

    [Fact]
    public void DotF16V256_RowWithInfinityOrNaN_MatchesScalar()
    {
        foreach (var special in new[] { (ushort)0x7C00, (ushort)0xFC00, (ushort)0x7E00 })
        {
            foreach (var at in new[] { 0, 20, 40 })
            {
                var x = Gaussian(45, at + 1);
                var h = MemoryMarshal.Cast<byte, ushort>(Encode(GgmlType.F16, Gaussian(45, at + 2))).ToArray();
                h[at] = special;
                var expected = FloatKernels.DotF16Scalar(h, x);
                var actual = FloatKernels.DotF16V256(h, x);
                Assert.True(expected.Equals(actual), $"0x{special:X4} at {at}: expected {expected}, got {actual}");
            }
        }
    }

    [Fact]
    public void HalfToSingleV256_EveryHalfBitPattern_MatchesHalfConversion()
    {
        var all = new ushort[65536];
        for (var i = 0; i < all.Length; i++)
            all[i] = (ushort)i;
        var converted = new float[all.Length];
        FloatKernels.HalfToSingleV256(all, converted);
        for (var i = 0; i < all.Length; i++)
        {
            var expected = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            if (float.IsNaN(expected))
                Assert.True(float.IsNaN(converted[i]), $"0x{i:X4} should be NaN");
            else
                Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(converted[i]), $"0x{i:X4}: {expected} vs {converted[i]}");
        }
    }

    public static TheoryData<GgmlType> QuantTypes => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K };

    private delegate float Kernel(ReadOnlySpan<byte> w, ReadOnlySpan<byte> x, int blocks);

    private static (Kernel Scalar, Kernel V256, Kernel V512) Paths(GgmlType type) => type switch
    {
        GgmlType.Q8_0 => (QuantKernels.DotQ8_0Scalar, QuantKernels.DotQ8_0V256, QuantKernels.DotQ8_0V512),
        GgmlType.Q4_0 => (QuantKernels.DotQ4_0Scalar, QuantKernels.DotQ4_0V256, QuantKernels.DotQ4_0V512),
        GgmlType.Q5_0 => (QuantKernels.DotQ5_0Scalar, QuantKernels.DotQ5_0V256, QuantKernels.DotQ5_0V512),
        GgmlType.Q5_1 => (QuantKernels.DotQ5_1Scalar, QuantKernels.DotQ5_1V256, QuantKernels.DotQ5_1V512),
        GgmlType.Q4_K => (QuantKernels.DotQ4_KScalar, QuantKernels.DotQ4_KV256, QuantKernels.DotQ4_KV512),
        GgmlType.Q5_K => (QuantKernels.DotQ5_KScalar, QuantKernels.DotQ5_KV256, QuantKernels.DotQ5_KV512),
        _ => (QuantKernels.DotQ6_KScalar, QuantKernels.DotQ6_KV256, QuantKernels.DotQ6_KV512),
    };

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void DotQ8_SimdPaths_MatchScalarOnRandomBlocksAndQuantizedData(GgmlType type)
    {
        var (scalar, v256, v512) = Paths(type);
        foreach (var blocks in OddBlockCounts)
        {
            var n = blocks * GgmlTypes.BlockSize(type);
            var x = Gaussian(n, 7 * blocks);
            var xq = new byte[TensorOps.ActivationSize(type, n)];
            TensorOps.QuantizeActivations(type, x, xq);
            foreach (var (name, w) in new[] { ("random bits", RandomBlocks(type, blocks, blocks)), ("quantized", Encode(type, Gaussian(n, 9 * blocks, 0.05f))) })
            {
                var reference = scalar(w, xq, blocks);
                var m = Magnitude(Decode(type, w, n), x) * 2; // activations rounded to 8 bits stay within 2× of x's magnitude
                if (!Skip(Avx2.IsSupported, "AVX2"))
                    Close(reference, v256(w, xq, blocks), m, IntegerPathTolerance, $"{type} AVX2 {name} blocks={blocks}");
                if (!Skip(Avx512BW.IsSupported, "AVX-512BW"))
                    Close(reference, v512(w, xq, blocks), m, IntegerPathTolerance, $"{type} AVX-512 {name} blocks={blocks}");
                Close(reference, TensorOps.DotQ8(type, w, xq, n), m, IntegerPathTolerance, $"{type} dispatch {name} blocks={blocks}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void DecodeDot_V256_MatchesScalarReferenceOnRandomBlocks(GgmlType type)
    {
        foreach (var blocks in OddBlockCounts)
        {
            var n = blocks * GgmlTypes.BlockSize(type);
            var x = Gaussian(n, 43 * blocks);
            foreach (var w in new[] { RandomBlocks(type, blocks, 47 * blocks), Encode(type, Gaussian(n, 53 * blocks)) })
            {
                var reference = DecodeDotKernels.DotScalar(type, w, x);
                var m = Magnitude(Decode(type, w, n), x);
                if (!Skip(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated, "Vector256"))
                {
                    var v256 = type switch
                    {
                        GgmlType.Q8_0 => DecodeDotKernels.DotQ8_0V256(w, x),
                        GgmlType.Q4_0 => DecodeDotKernels.DotQ4_0V256(w, x),
                        GgmlType.Q5_0 => DecodeDotKernels.DotQ5V256(w, x, withMin: false),
                        GgmlType.Q5_1 => DecodeDotKernels.DotQ5V256(w, x, withMin: true),
                        GgmlType.Q4_K => DecodeDotKernels.DotQ4_KV256(w, x, fiveBit: false),
                        GgmlType.Q5_K => DecodeDotKernels.DotQ4_KV256(w, x, fiveBit: true),
                        _ => DecodeDotKernels.DotQ6_KV256(w, x),
                    };
                    Close(reference, v256, m, FloatReorderTolerance, $"{type} V256 blocks={blocks}");
                }
                Close(reference, TensorOps.Dot(type, w, x), m, FloatReorderTolerance, $"{type} dispatch blocks={blocks}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void DotQ8_QuantizedActivations_CloseToFloatDot(GgmlType type)
    {
        foreach (var blocks in OddBlockCounts)
        {
            var n = blocks * GgmlTypes.BlockSize(type);
            var w = Encode(type, Gaussian(n, 13 * blocks, 0.05f));
            var x = Gaussian(n, 17 * blocks);
            var xq = new byte[TensorOps.ActivationSize(type, n)];
            TensorOps.QuantizeActivations(type, x, xq);
            var m = Magnitude(Decode(type, w, n), x);
            Close(TensorOps.Dot(type, w, x), TensorOps.DotQ8(type, w, xq, n), m, ActivationQuantizationTolerance, $"{type} blocks={blocks}");
        }
    }

    [Fact]
    public void Dot_EverySupportedType_MatchesExactDotOfDecodedRow()
    {
        foreach (var type in SupportedTypes)
        {
            foreach (var blocks in OddBlockCounts)
            {
                var n = blocks * (GgmlTypes.BlockSize(type) == 1 ? 37 : GgmlTypes.BlockSize(type)); // odd lengths for the float types
                var w = Encode(type, Gaussian(n, 19 * blocks));
                var x = Gaussian(n, 23 * blocks);
                var decoded = Decode(type, w, n);
                Close(ExactDot(decoded, x), TensorOps.Dot(type, w, x), Magnitude(decoded, x), DecodedDotTolerance, $"{type} n={n}");
            }
        }
    }

    [Fact]
    public void RowKernelsDotQ8_RangeOfRows_EqualsSingleRowDots()
    {
        foreach (var type in SupportedTypes)
        {
            var bs = GgmlTypes.BlockSize(type);
            var n = (bs == 1 ? 37 : bs) * (bs == 256 ? 3 : 18); // a 576-wide row of 32-weight blocks
            const int rows = 5;
            var w = Encode(type, Gaussian(rows * n, 61, 0.05f));
            var xq = new byte[TensorOps.ActivationSize(type, n)];
            TensorOps.QuantizeActivations(type, Gaussian(n, 67), xq);
            var y = new float[rows + 1];
            y[rows] = 42f;
            RowKernels.DotQ8(type, w, rows, xq, n, y);
            var rowBytes = TensorOps.RowSize(type, n);
            for (var i = 0; i < rows; i++)
                Assert.Equal(TensorOps.DotQ8(type, w.AsSpan(i * rowBytes, rowBytes), xq, n), y[i]);
            Assert.Equal(42f, y[rows]); // nothing written past the range
        }
    }

    private static Kernel ScalarReference(GgmlType type) => Paths(type).Scalar;

    // y[i] = RowKernels.DotQ8 over all rows, and the scalar reference of each row.
    private static (float[] Range, float[] Reference) RangeAndReference(GgmlType type, byte[] w, int rows, byte[] xq, int n)
    {
        var rowBytes = TensorOps.RowSize(type, n);
        var y = new float[rows];
        RowKernels.DotQ8(type, w, rows, xq, n, y);
        var reference = new float[rows];
        for (var i = 0; i < rows; i++)
            reference[i] = ScalarReference(type)(w.AsSpan(i * rowBytes, rowBytes), xq, n / GgmlTypes.BlockSize(type));
        return (y, reference);
    }

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void RowKernelsDotQ8_OddRowAndBlockCounts_MatchScalarReference(GgmlType type)
    {
        foreach (var rows in new[] { 1, 3, 7 })
        {
            foreach (var blocks in OddBlockCounts)
            {
                var n = blocks * GgmlTypes.BlockSize(type);
                var w = RandomBlocks(type, rows * blocks, 101 * rows + blocks);
                var x = Gaussian(n, 103 * blocks);
                var xq = new byte[TensorOps.ActivationSize(type, n)];
                TensorOps.QuantizeActivations(type, x, xq);
                var (y, reference) = RangeAndReference(type, w, rows, xq, n);
                var rowBytes = TensorOps.RowSize(type, n);
                for (var i = 0; i < rows; i++)
                    Close(reference[i], y[i], Magnitude(Decode(type, w.AsSpan(i * rowBytes, rowBytes).ToArray(), n), x) * 2, IntegerPathTolerance,
                        $"{type} row {i} of {rows}, blocks={blocks}");
            }
        }
    }

    public static TheoryData<GgmlType> LegacyTypes => new() { GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1 };

    [Theory]
    [MemberData(nameof(LegacyTypes))]
    public void RowKernelsDotQ8_LeftoverBlocksGroupedAcrossRows_EqualSingleRowDotsAndReference(GgmlType type)
    {
        // Rows with 0 or 2 leftover blocks (16, 18, 2 blocks) go four at a time, others (9, 11, 12, 1, 4) one at a time; row counts
        // that are not multiples of four leave rows to the one-row path. Each row must not depend on its neighbours.
        foreach (var blocks in new[] { 16, 18, 2, 9, 11, 12, 1, 4 })
        {
            foreach (var rows in new[] { 2, 7, 8, 9, 17 })
            {
                var n = blocks * Q8_0Block.Size;
                var w = RandomBlocks(type, rows * blocks, 113 * rows + blocks);
                var x = Gaussian(n, 127 * blocks);
                var xq = new byte[TensorOps.ActivationSize(type, n)];
                TensorOps.QuantizeActivations(type, x, xq);
                var (y, reference) = RangeAndReference(type, w, rows, xq, n);
                var rowBytes = TensorOps.RowSize(type, n);
                for (var i = 0; i < rows; i++)
                {
                    Assert.Equal(TensorOps.DotQ8(type, w.AsSpan(i * rowBytes, rowBytes), xq, n), y[i]);
                    Close(reference[i], y[i], Magnitude(Decode(type, w.AsSpan(i * rowBytes, rowBytes).ToArray(), n), x) * 2, IntegerPathTolerance,
                        $"{type} row {i} of {rows}, blocks={blocks}");
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    public void RowKernelsDotQ8_KQuantRowGroups_EqualSingleRowDotsAndReference(GgmlType type)
    {
        // Rows go four at a time, one lane each; a last group of 1-3 rows fills the other lanes with zeros. No row may depend on its
        // neighbours or on where the group ends. 17 super-blocks: rows longer than the prefetch distance (the other prefetch path).
        foreach (var blocks in new[] { 1, 3, 8, 17 })
        {
            foreach (var rows in new[] { 1, 2, 3, 4, 5, 8, 11 })
            {
                var n = blocks * Q8KBlock.Size;
                var w = RandomBlocks(type, rows * blocks, 131 * rows + blocks);
                var x = Gaussian(n, 137 * blocks);
                var xq = new byte[TensorOps.ActivationSize(type, n)];
                TensorOps.QuantizeActivations(type, x, xq);
                var (y, reference) = RangeAndReference(type, w, rows, xq, n);
                var rowBytes = TensorOps.RowSize(type, n);
                for (var i = 0; i < rows; i++)
                {
                    Assert.Equal(TensorOps.DotQ8(type, w.AsSpan(i * rowBytes, rowBytes), xq, n), y[i]);
                    Close(reference[i], y[i], Magnitude(Decode(type, w.AsSpan(i * rowBytes, rowBytes).ToArray(), n), x) * 2, IntegerPathTolerance,
                        $"{type} row {i} of {rows}, blocks={blocks}");
                }
            }
        }
    }

    /// <summary>Block scales at the edges of a half: the largest, zero, negative, subnormals (smallest and largest).</summary>
    private static readonly float[] ExtremeScales = [65504f, -65504f, 0f, 5.96e-8f, -6.1e-5f, 0.0123f, -1f, 2.4e-7f];

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void RowKernelsDotQ8_ExtremeBlockScales_MatchScalarReference(GgmlType type)
    {
        const int rows = 3, blocks = 17;
        var n = blocks * GgmlTypes.BlockSize(type);
        var w = WithScales(type, RandomBlocks(type, rows * blocks, 107), (b, _) => ExtremeScales[b % ExtremeScales.Length]);
        var x = Gaussian(n, 109, 1000f); // large activations: a large activation scale meets the large weight scales
        var xq = new byte[TensorOps.ActivationSize(type, n)];
        TensorOps.QuantizeActivations(type, x, xq);
        var (y, reference) = RangeAndReference(type, w, rows, xq, n);
        var rowBytes = TensorOps.RowSize(type, n);
        for (var i = 0; i < rows; i++)
        {
            Assert.True(float.IsFinite(y[i]), $"{type} row {i}: {y[i]}");
            Close(reference[i], y[i], Magnitude(Decode(type, w.AsSpan(i * rowBytes, rowBytes).ToArray(), n), x) * 2, IntegerPathTolerance, $"{type} row {i}");
        }
    }

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void RowKernelsDotQ8_InfiniteOrNaNBlockScale_NotFiniteLikeScalarReference(GgmlType type)
    {
        const int rows = 4, blocks = 9;
        var n = blocks * GgmlTypes.BlockSize(type);
        // Row 0 has an infinite scale in its first group of eight, row 1 a NaN in its leftover block, rows 2 and 3 stay finite.
        float[] special = [float.PositiveInfinity, float.NaN];
        var w = WithScales(type, RandomBlocks(type, rows * blocks, 113), (b, first) =>
            first && b == 2 ? special[0] : first && b == blocks + 8 ? special[1] : 0.01f);
        var xq = new byte[TensorOps.ActivationSize(type, n)];
        TensorOps.QuantizeActivations(type, Gaussian(n, 127), xq);
        var (y, reference) = RangeAndReference(type, w, rows, xq, n);
        for (var i = 0; i < rows; i++)
            Assert.True(float.IsFinite(reference[i]) == float.IsFinite(y[i]), $"{type} row {i}: reference {reference[i]}, got {y[i]}");
        Assert.False(float.IsFinite(y[0]));
        Assert.True(float.IsFinite(y[2]) && float.IsFinite(y[3]));
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q5_1)]
    public void DotQ8_RowWiderThanStackScratch_MatchesScalarReference(GgmlType type)
    {
        var blocks = QuantKernels.MaxStackBlocks + 3;
        var n = blocks * GgmlTypes.BlockSize(type);
        var w = RandomBlocks(type, 2 * blocks, 131);
        var x = Gaussian(n, 137);
        var xq = new byte[TensorOps.ActivationSize(type, n)];
        TensorOps.QuantizeActivations(type, x, xq);
        var (y, reference) = RangeAndReference(type, w, 2, xq, n);
        var rowBytes = TensorOps.RowSize(type, n);
        for (var i = 0; i < 2; i++)
        {
            var m = Magnitude(Decode(type, w.AsSpan(i * rowBytes, rowBytes).ToArray(), n), x) * 2;
            Close(reference[i], y[i], m, IntegerPathTolerance, $"{type} range row {i}");
            Close(reference[i], TensorOps.DotQ8(type, w.AsSpan(i * rowBytes, rowBytes), xq, n), m, IntegerPathTolerance, $"{type} single row {i}");
        }
    }

    // Overwrites every block's scale (and the min or dmin of the types that have one) with scale(block index, is the d field).
    private static byte[] WithScales(GgmlType type, byte[] w, Func<int, bool, float> scale)
    {
        var bb = GgmlTypes.BlockBytes(type);
        int[] fields = type switch
        {
            GgmlType.Q5_1 => [Q5_1Block.D, Q5_1Block.M],
            GgmlType.Q4_K or GgmlType.Q5_K => [Q4KBlock.D, Q4KBlock.DMin],
            GgmlType.Q6_K => [Q6KBlock.D],
            _ => [Q8_0Block.D],
        };
        for (var b = 0; b < w.Length / bb; b++)
            for (var f = 0; f < fields.Length; f++)
                BitConverter.TryWriteBytes(w.AsSpan(b * bb + fields[f]), (Half)scale(b, f == 0));
        return w;
    }

    [Fact]
    public void DotQ8_FloatTypes_EqualDot()
    {
        foreach (var type in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16 })
        {
            const int n = 101;
            var w = Encode(type, Gaussian(n, 29));
            var x = Gaussian(n, 31);
            var xq = new byte[TensorOps.ActivationSize(type, n)];
            TensorOps.QuantizeActivations(type, x, xq);
            Assert.Equal(TensorOps.Dot(type, w, x), TensorOps.DotQ8(type, w, xq, n));
        }
    }

    [Fact]
    public void QuantizeV256_GaussianAndHalfwayValues_WriteSameBytesAsScalar()
    {
        if (Skip(Avx2.IsSupported, "AVX2"))
            return;
        const int n = 1024;
        var x = Gaussian(n, 71);
        // Block 0: max 127 so d = 1 and values sit exactly halfway or just below it; block 1 all zeros; block 2 one huge value.
        x[0] = 127f;
        float[] edges = [2.5f, -2.5f, 0.5f, -0.5f, 0.49999997f, -0.49999997f, 126.5f, -126.5f, 1.5f, -0f];
        edges.CopyTo(x, 1);
        Array.Clear(x, 32, 32);
        x[70] = 1e30f;
        foreach (var (name, scalar, v256, bytes) in new (string, Action<float[], byte[]>, Action<float[], byte[]>, int)[]
        {
            ("Q8_0", (a, b) => Quantize.Q8_0Scalar(a, b), (a, b) => Quantize.Q8_0V256(a, b), TensorOps.RowSize(GgmlType.Q8_0, n)),
            ("Q8_K", (a, b) => Quantize.Q8_KScalar(a, b), (a, b) => Quantize.Q8_KV256(a, b), TensorOps.RowSize(GgmlType.Q8_K, n)),
        })
        {
            byte[] expected = new byte[bytes], actual = new byte[bytes];
            scalar(x, expected);
            v256(x, actual);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{name}: first difference at byte {expected.AsSpan().CommonPrefixLength(actual)}");
        }
    }

    [Fact]
    public void QuantizeActivations_Q8K_BlockSumsMatchQuantizedValues()
    {
        const int n = 512;
        var x = Gaussian(n, 37);
        var xq = new byte[TensorOps.ActivationSize(GgmlType.Q4_K, n)];
        TensorOps.QuantizeActivations(GgmlType.Q4_K, x, xq);
        for (var b = 0; b < 2; b++)
        {
            var blk = xq.AsSpan(b * Q8KBlock.Bytes, Q8KBlock.Bytes);
            var d = BitConverter.ToSingle(blk[Q8KBlock.D..]);
            for (var s = 0; s < 16; s++)
            {
                var sum = 0;
                for (var l = 0; l < 16; l++)
                {
                    var q = (sbyte)blk[Q8KBlock.Qs + 16 * s + l];
                    sum += q;
                    Assert.InRange(Math.Abs(q * d - x[256 * b + 16 * s + l]), 0, d / 2 + 1e-6);
                }
                Assert.Equal(sum, BitConverter.ToInt16(blk[(Q8KBlock.BSums + 2 * s)..]));
            }
        }
    }
}

public sealed class HalfBitsTests
{
    [Fact]
    public void ToSingleVector_EveryHalfBitPattern_MatchesHalfConversion()
    {
        Span<uint> lanes = stackalloc uint[8];
        for (var i = 0; i < 65536; i += 8)
        {
            for (var k = 0; k < 8; k++)
                lanes[k] = (uint)(i + k);
            var converted = HalfBits.ToSingle(System.Runtime.Intrinsics.Vector256.Create<uint>(lanes));
            for (var k = 0; k < 8; k++)
            {
                var expected = (float)BitConverter.UInt16BitsToHalf((ushort)(i + k));
                var actual = System.Runtime.Intrinsics.Vector256.GetElement(converted, k);
                if (float.IsNaN(expected))
                    Assert.True(float.IsNaN(actual) && BitConverter.SingleToUInt32Bits(actual) == BitConverter.SingleToUInt32Bits(HalfBits.ToSingle((ushort)(i + k))),
                        $"0x{i + k:X4} should be the same NaN as the scalar conversion");
                else
                    Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"0x{i + k:X4}: {expected} vs {actual}");
            }
        }
    }

    [Fact]
    public void ToSingle_EveryHalfBitPattern_MatchesHalfConversion()
    {
        for (var i = 0; i < 65536; i++)
        {
            var expected = (float)BitConverter.UInt16BitsToHalf((ushort)i);
            var actual = HalfBits.ToSingle((ushort)i);
            if (float.IsNaN(expected))
                Assert.True(float.IsNaN(actual), $"0x{i:X4} should be NaN");
            else
                Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual), $"0x{i:X4}: {expected} vs {actual}");
        }
    }
}
