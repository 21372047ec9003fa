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

    [Theory]
    [InlineData(0.8f, 40, 0.95f, 0.05f, 1f)]     // the defaults
    [InlineData(1.0f, 5, 1f, 0f, 1f)]
    [InlineData(0.7f, 1000, 0.9f, 0f, 1.1f)]   // k above the candidates of a 1000-token vocabulary
    [InlineData(1.3f, 0, 0.8f, 0.02f, 1f)]     // no top-k: every candidate sorted
    [InlineData(1.0f, 64, 1f, 0.1f, 1.3f)]
    public void Sample_SelectionInsteadOfSort_SameTokensAsSortingEveryCandidate(float temperature, int topK, float topP, float minP, float penalty)
    {
        // The sampler selects the k best instead of sorting the vocabulary: it must draw exactly what the sorting definition draws.
        var o = new GenerationOptions { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, RepetitionPenalty = penalty };
        int[] recent = [3, 17, 17, 900];
        for (ulong seed = 1; seed <= 6; seed++)
        {
            var logits = Logits(seed % 2 == 0 ? 1000 : 49_152, seed);
            var sampler = new Sampler(logits.Length);
            Rng fast = new(seed), reference = new(seed);
            for (var i = 0; i < 5; i++)
                Assert.Equal(SortingReference((float[])logits.Clone(), o, recent, ref reference), sampler.Sample((float[])logits.Clone(), o, recent, ref fast));
        }
    }

    [Fact]
    public void ArgMax_TiesAndOddLengths_ReturnsTheFirstLargest()
    {
        foreach (var n in new[] { 1, 7, 8, 9, 31, 49_152 })
        {
            var logits = Logits(n, (ulong)n);
            var expected = 0;
            for (var i = 1; i < n; i++)
                if (logits[i] > logits[expected]) expected = i;
            Assert.Equal(expected, Sampler.ArgMax(logits));
            logits[n - 1] = logits[expected]; // a tie later on: the first still wins
            Assert.Equal(expected, Sampler.ArgMax(logits));
            logits[n / 2] = 100f;
            logits[n - 1] = 100f;
            Assert.Equal(n / 2, Sampler.ArgMax(logits));
        }
    }

    // The definition the sampler keeps: penalties, every candidate within 40 of the best sorted by logit, top-k, top-p, min-p,
    // temperature, a seeded draw (the sampler before the selection, kept here as the reference).
    private static int SortingReference(float[] logits, GenerationOptions o, int[] recent, ref Rng rng)
    {
        var counts = new Dictionary<int, int>();
        foreach (var t in recent)
            counts[t] = counts.GetValueOrDefault(t) + 1;
        foreach (var (t, count) in counts)
        {
            var l = logits[t];
            if (o.RepetitionPenalty != 1f)
                l = l > 0 ? l / o.RepetitionPenalty : l * o.RepetitionPenalty;
            l -= count * o.FrequencyPenalty + o.PresencePenalty;
            logits[t] = l;
        }
        var max = logits.Max();
        var values = new List<float>();
        var ids = new List<int>();
        for (var i = 0; i < logits.Length; i++)
            if (logits[i] >= max - 40f)
            {
                values.Add(-logits[i]);
                ids.Add(i);
            }
        var v = values.ToArray();
        var id = ids.ToArray();
        Array.Sort(v, id);
        var n = v.Length;
        if (o.TopK > 0 && o.TopK < n)
            n = o.TopK;
        var best = -v[0];
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            v[i] = MathF.Exp(-v[i] - best);
            sum += v[i];
        }
        if (o.TopP < 1)
        {
            var cumulative = 0.0;
            for (var i = 0; i < n; i++)
            {
                cumulative += v[i] / sum;
                if (cumulative >= o.TopP)
                {
                    n = i + 1;
                    break;
                }
            }
        }
        if (o.MinP > 0)
        {
            var keep = 1;
            while (keep < n && v[keep] >= o.MinP)
                keep++;
            n = keep;
        }
        var inv = 1.0 / o.Temperature;
        var total = 0.0;
        for (var i = 0; i < n; i++)
        {
            v[i] = (float)Math.Pow(v[i], inv);
            total += v[i];
        }
        var r = rng.NextDouble() * total;
        var acc = 0.0;
        for (var i = 0; i < n; i++)
        {
            acc += v[i];
            if (r < acc)
                return id[i];
        }
        return id[n - 1];
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
