using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Tests.Tensors;

/// <summary>Seeded random inputs shared by the tensor tests.</summary>
internal static class TensorTestData
{
    public static readonly GgmlType[] SupportedTypes =
        [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    /// <summary>Normally distributed values (Box-Muller), the shape real weights and activations roughly have.</summary>
    public static float[] Gaussian(int n, int seed, float sigma = 1f)
    {
        var rng = new Random(seed);
        var r = new float[n];
        for (var i = 0; i < n; i++)
        {
            var u1 = 1.0 - rng.NextDouble();
            var u2 = rng.NextDouble();
            r[i] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return r;
    }

    public static byte[] Encode(GgmlType type, float[] x)
    {
        var b = new byte[TensorOps.RowSize(type, x.Length)];
        TensorOps.QuantizeRow(type, x, b);
        return b;
    }

    public static float[] Decode(GgmlType type, byte[] row, int n)
    {
        var r = new float[n];
        TensorOps.DequantizeRow(type, row, r);
        return r;
    }

    /// <summary>Random bytes in a valid block layout: every quant bit pattern, but block scales set to finite halves of moderate size,
    /// so kernels meet inputs our own quantizer would never produce.</summary>
    public static byte[] RandomBlocks(GgmlType type, int blocks, int seed)
    {
        var rng = new Random(seed);
        var bb = GgmlTypes.BlockBytes(type);
        var b = new byte[blocks * bb];
        rng.NextBytes(b);
        for (var i = 0; i < blocks; i++)
        {
            var blk = b.AsSpan(i * bb, bb);
            switch (type)
            {
                case GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0: SetHalf(blk, 0, rng); break;
                case GgmlType.Q5_1: SetHalf(blk, 0, rng); SetHalf(blk, 2, rng); break;
                case GgmlType.Q4_K or GgmlType.Q5_K: SetHalf(blk, 0, rng); SetHalf(blk, 2, rng); break;
                case GgmlType.Q6_K: SetHalf(blk, 208, rng); break;
            }
        }
        return b;
    }

    private static void SetHalf(Span<byte> blk, int at, Random rng) =>
        BitConverter.TryWriteBytes(blk[at..], (Half)(float)(rng.NextDouble() * 0.02 + 0.001));

    /// <summary>Σ|w_i·x_i| in double: the scale a dot product's rounding error is measured against.</summary>
    public static double Magnitude(ReadOnlySpan<float> w, ReadOnlySpan<float> x)
    {
        double m = 0;
        for (var i = 0; i < w.Length; i++)
            m += Math.Abs((double)w[i] * x[i]);
        return m;
    }

    public static double ExactDot(ReadOnlySpan<float> w, ReadOnlySpan<float> x)
    {
        double s = 0;
        for (var i = 0; i < w.Length; i++)
            s += (double)w[i] * x[i];
        return s;
    }
}
