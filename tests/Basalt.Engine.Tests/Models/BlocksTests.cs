using Basalt.Engine.Models;

namespace Basalt.Engine.Tests.Models;

public sealed class BlocksTests
{
    [Theory]
    [InlineData(RopeStyle.Normal, 3, 64, 32)]
    [InlineData(RopeStyle.Normal, 2, 20, 7)] // partial rotation, pairs not a multiple of 4
    [InlineData(RopeStyle.NeoX, 3, 64, 32)]
    [InlineData(RopeStyle.NeoX, 2, 40, 13)] // partial rotation, pairs not a multiple of 8
    public void Rope_AnyShape_MatchesPairwiseFormulaBitForBit(RopeStyle style, int heads, int headDim, int pairs)
    {
        var rng = new Random(pairs);
        var vec = new float[heads * headDim];
        for (var i = 0; i < vec.Length; i++)
            vec[i] = (float)(rng.NextDouble() * 4 - 2);
        float[] cos = new float[pairs], sin = new float[pairs];
        for (var i = 0; i < pairs; i++)
            (sin[i], cos[i]) = MathF.SinCos(17.3f * MathF.Pow(10000f, -2f * i / (2 * pairs)));
        var expected = (float[])vec.Clone();
        for (var h = 0; h < heads; h++)
            for (var i = 0; i < pairs; i++)
            {
                int ia = h * headDim + (style == RopeStyle.Normal ? 2 * i : i), ib = style == RopeStyle.Normal ? ia + 1 : ia + pairs;
                float a = expected[ia], b = expected[ib];
                expected[ia] = a * cos[i] - b * sin[i];
                expected[ib] = a * sin[i] + b * cos[i];
            }

        Blocks.Rope(vec, heads, headDim, style, cos, sin);

        Assert.Equal(expected, vec);
    }

    [Theory]
    [InlineData(576)]
    [InlineData(13)]
    public void RmsNorm_InPlace_MatchesScalarFormulaBitForBit(int n)
    {
        var rng = new Random(n);
        var x = new float[n];
        var weight = new float[n];
        for (var i = 0; i < n; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
            weight[i] = (float)(rng.NextDouble() + 0.5);
        }
        var ss = Basalt.Engine.Tensors.FloatKernels.DotF32(x, x);
        var scale = 1f / MathF.Sqrt(ss / n + 1e-5f);
        var expected = new float[n];
        for (var i = 0; i < n; i++)
            expected[i] = x[i] * scale * weight[i];

        Blocks.RmsNorm(x, weight, x, 1e-5f);

        Assert.Equal(expected, x);
    }
}
