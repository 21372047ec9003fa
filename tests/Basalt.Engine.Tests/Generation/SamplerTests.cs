using Basalt.Engine.Generation;

namespace Basalt.Engine.Tests.Generation;

public sealed class SamplerTests
{
    private static float[] Logits(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var logits = new float[n];
        for (var i = 0; i < n; i++)
            logits[i] = (float)(rng.NextDouble() * 8 - 4);
        return logits;
    }

    private static int[] Draw(GenerationOptions o, ulong seed, int count, float[] logits, int[]? recent = null)
    {
        var sampler = new Sampler(logits.Length);
        var rng = new Rng(seed);
        var result = new int[count];
        for (var i = 0; i < count; i++)
            result[i] = sampler.Sample((float[])logits.Clone(), o, recent ?? [], ref rng);
        return result;
    }

    [Fact]
    public void Sample_SameSeed_SameTokens()
    {
        var logits = Logits(1000, 1);
        var o = new GenerationOptions { Temperature = 1.0f, TopK = 0, TopP = 1, MinP = 0 };
        Assert.Equal(Draw(o, 42, 50, logits), Draw(o, 42, 50, logits));
        Assert.NotEqual(Draw(o, 42, 50, logits), Draw(o, 43, 50, logits));
    }

    [Fact]
    public void Sample_TemperatureZero_ReturnsArgMax()
    {
        var logits = Logits(777, 2);
        var best = Array.IndexOf(logits, logits.Max());
        var drawn = Draw(new GenerationOptions { Temperature = 0 }, 5, 20, logits);
        Assert.All(drawn, t => Assert.Equal(best, t));
    }

    [Fact]
    public void Sample_TopK_OnlyDrawsTheKBest()
    {
        var logits = Logits(501, 3);
        var allowed = logits.Select((l, i) => (l, i)).OrderByDescending(p => p.l).Take(3).Select(p => p.i).ToHashSet();
        var drawn = Draw(new GenerationOptions { Temperature = 5f, TopK = 3, TopP = 1, MinP = 0 }, 9, 300, logits);
        Assert.All(drawn, t => Assert.Contains(t, allowed));
        Assert.Equal(3, drawn.Distinct().Count());
    }

    [Fact]
    public void Sample_TopP_DrawsOnlyFromTheNucleus()
    {
        // Probabilities 0.5, 0.3, 0.15, 0.05: top-p 0.75 keeps the first two.
        var logits = new[] { MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f) };
        var drawn = Draw(new GenerationOptions { Temperature = 1, TopK = 0, TopP = 0.75f, MinP = 0 }, 11, 400, logits);
        Assert.All(drawn, t => Assert.True(t is 0 or 1, $"token {t} is outside the nucleus"));
        Assert.Contains(1, drawn);
    }

    [Fact]
    public void Sample_MinP_DropsTokensBelowTheFractionOfTheBest()
    {
        // Relative to the best (0.5): 0.3 is 0.6 of it, 0.15 is 0.3, 0.05 is 0.1; min-p 0.25 keeps three.
        var logits = new[] { MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f) };
        var drawn = Draw(new GenerationOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0.25f }, 13, 600, logits);
        Assert.DoesNotContain(3, drawn);
        Assert.Contains(2, drawn);
    }

    [Fact]
    public void Sample_RepetitionPenalty_StopsGreedyRepeatingARecentToken()
    {
        var logits = new float[] { 2.0f, 1.5f, 0.1f };
        Assert.Equal(0, Draw(new GenerationOptions { Temperature = 0 }, 1, 1, logits, [0])[0]);
        // 2.0 / 1.5 = 1.33 < 1.5: the repeated token loses its lead.
        Assert.Equal(1, Draw(new GenerationOptions { Temperature = 0, RepetitionPenalty = 1.5f }, 1, 1, logits, [0])[0]);
    }

    [Fact]
    public void Sample_FrequencyPenalty_GrowsWithOccurrences()
    {
        var logits = new float[] { 2.0f, 1.5f };
        var o = new GenerationOptions { Temperature = 0, FrequencyPenalty = 0.3f };
        // One occurrence: 2.0 - 0.3 = 1.7 still wins; two: 2.0 - 0.6 = 1.4 loses.
        Assert.Equal(0, Draw(o, 1, 1, logits, [0])[0]);
        Assert.Equal(1, Draw(o, 1, 1, logits, [0, 0])[0]);
    }

    [Fact]
    public void Sample_PresencePenalty_AppliesOncePerToken()
    {
        var logits = new float[] { 2.0f, 1.5f };
        var o = new GenerationOptions { Temperature = 0, PresencePenalty = 0.4f };
        // 2.0 - 0.4 = 1.6 wins however often token 0 occurred.
        Assert.Equal(0, Draw(o, 1, 1, logits, [0, 0, 0, 0])[0]);
        Assert.Equal(1, Draw(o with { PresencePenalty = 0.6f }, 1, 1, logits, [0])[0]);
    }

    [Fact]
    public void Sample_HighTemperature_SpreadsDrawsAcrossTokens()
    {
        var logits = new[] { 1.0f, 0.0f };
        var cold = Draw(new GenerationOptions { Temperature = 0.2f, TopK = 0, TopP = 1, MinP = 0 }, 3, 1000, logits).Count(t => t == 1);
        var hot = Draw(new GenerationOptions { Temperature = 3f, TopK = 0, TopP = 1, MinP = 0 }, 3, 1000, logits).Count(t => t == 1);
        // exp(-1/0.2) / (1 + exp(-5)) ~ 0.7%; at T = 3 ~ 42%.
        Assert.InRange(cold, 0, 30);
        Assert.InRange(hot, 350, 490);
    }

    [Fact]
    public void Validate_NegativeTemperature_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new GenerationOptions { Temperature = -1 }.Validate());
        Assert.Contains("Temperature", e.Message);
    }
}
