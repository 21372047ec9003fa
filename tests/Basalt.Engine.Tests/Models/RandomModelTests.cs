using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Tests.Models;

public sealed class RandomModelTests
{
    // The type written for a matrix of the given row width under a preset, as `basalt bench --make-model` does.
    private static GgmlType Written(string preset, ModelShape shape, string name, int cols) =>
        RandomModel.FitRow(RandomModel.TypePolicy(preset, shape)(name), cols);

    [Fact]
    public void TypePolicy_Q4KM_On135MShape_MatchesLlamaCppTypeMix()
    {
        var s = ModelShape.SmolLm2_135M; // rows of 576 (not a multiple of 256) except ffn_down's 1536
        Assert.Equal(GgmlType.Q8_0, Written("Q4_K_M", s, N.TokenEmbedding, s.Dim));            // tied output: Q6_K, falls back to Q8_0
        Assert.Equal(GgmlType.Q5_0, Written("Q4_K_M", s, N.Block(5, N.AttnQ), s.Dim));          // Q4_K falls back to Q5_0
        Assert.Equal(GgmlType.Q5_0, Written("Q4_K_M", s, N.Block(5, N.FfnGate), s.Dim));
        Assert.Equal(GgmlType.Q8_0, Written("Q4_K_M", s, N.Block(0, N.AttnV), s.Dim));          // more bits: Q6_K, falls back to Q8_0
        Assert.Equal(GgmlType.Q6_K, Written("Q4_K_M", s, N.Block(0, N.FfnDown), s.FfnDim));     // first eighth of the layers
        Assert.Equal(GgmlType.Q4_K, Written("Q4_K_M", s, N.Block(4, N.FfnDown), s.FfnDim));     // (4 - 3) % 3 != 2
        Assert.Equal(GgmlType.Q6_K, Written("Q4_K_M", s, N.Block(5, N.FfnDown), s.FfnDim));     // (5 - 3) % 3 == 2
    }

    [Fact]
    public void TypePolicy_Q5KM_NarrowRows_FallBackToQ5_1()
    {
        var s = ModelShape.SmolLm2_135M;
        Assert.Equal(GgmlType.Q5_1, Written("Q5_K_M", s, N.Block(4, N.AttnQ), s.Dim));
        Assert.Equal(GgmlType.Q5_K, Written("Q5_K_M", s, N.Block(4, N.FfnDown), s.FfnDim));
        Assert.Equal(GgmlType.Q4_K, Written("Q4_K_M", ModelShape.Llama_1B, N.Block(4, N.AttnQ), ModelShape.Llama_1B.Dim)); // 2048 fits
    }

    [Fact]
    public void TypePolicy_UnknownPreset_NamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => RandomModel.TypePolicy("Q3_K_S", ModelShape.SmolLm2_135M));
        Assert.Contains("Q5_K_M", e.Message);
    }
}
