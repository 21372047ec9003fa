namespace Basalt.Engine.Generation;

/// <summary>Turns logits into the next token: penalties, then top-k, top-p and min-p filters, then temperature, then a seeded draw
/// (llama.cpp's default order). Buffers are sized to the vocabulary once; sampling allocates nothing.</summary>
internal sealed class Sampler
{
    // Tokens this far below the best logit have relative probability under e^-40 (~4e-18), beneath float resolution of the sums:
    // dropping them before sorting changes no result and keeps sorting cheap for 150k-token vocabularies.
    private const float NegligibleLogitGap = 40f;

    private readonly int[] _ids;
    private readonly float[] _values;
    private readonly int[] _counts;

    public Sampler(int vocabSize)
    {
        _ids = new int[vocabSize];
        _values = new float[vocabSize];
        _counts = new int[vocabSize];
    }

    /// <summary>Picks a token. <paramref name="logits"/> is modified by the penalties. <paramref name="recent"/> holds the tokens the penalties consider.</summary>
    public int Sample(Span<float> logits, GenerationOptions o, ReadOnlySpan<int> recent, ref Rng rng)
    {
        ApplyPenalties(logits, o, recent);
        if (o.Temperature <= 0)
            return ArgMax(logits);

        // Candidates: (negated logit, id), negated so an ascending sort puts the best first.
        var max = logits[ArgMax(logits)];
        var n = 0;
        for (var i = 0; i < logits.Length; i++)
            if (logits[i] >= max - NegligibleLogitGap)
            {
                _values[n] = -logits[i];
                _ids[n++] = i;
            }
        var values = _values.AsSpan(0, n);
        var ids = _ids.AsSpan(0, n);
        values.Sort(ids);
        if (o.TopK > 0 && o.TopK < n)
            n = o.TopK;

        // Probabilities at temperature 1 for the filters.
        var best = -values[0];
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            values[i] = MathF.Exp(-values[i] - best);
            sum += values[i];
        }
        if (o.TopP < 1)
        {
            var cumulative = 0.0;
            for (var i = 0; i < n; i++)
            {
                cumulative += values[i] / sum;
                if (cumulative >= o.TopP)
                {
                    n = i + 1;
                    break;
                }
            }
        }
        if (o.MinP > 0)
        {
            // values[0] is the largest (exp(0) = 1), so the threshold is MinP itself.
            var keep = 1;
            while (keep < n && values[keep] >= o.MinP)
                keep++;
            n = keep;
        }

        // Temperature over the survivors: p_i ∝ exp((l_i - best) / T) = values[i]^(1/T).
        var inv = 1.0 / o.Temperature;
        var total = 0.0;
        for (var i = 0; i < n; i++)
        {
            values[i] = (float)Math.Pow(values[i], inv);
            total += values[i];
        }
        var r = rng.NextDouble() * total;
        var acc = 0.0;
        for (var i = 0; i < n; i++)
        {
            acc += values[i];
            if (r < acc)
                return ids[i];
        }
        return ids[n - 1];
    }

    private void ApplyPenalties(Span<float> logits, GenerationOptions o, ReadOnlySpan<int> recent)
    {
        if ((o.RepetitionPenalty == 1f && o.FrequencyPenalty == 0f && o.PresencePenalty == 0f) || recent.IsEmpty)
            return;
        foreach (var t in recent)
            _counts[t]++;
        foreach (var t in recent)
        {
            var count = _counts[t];
            if (count == 0)
                continue; // already penalised (duplicate in the window)
            var l = logits[t];
            if (o.RepetitionPenalty != 1f)
                l = l > 0 ? l / o.RepetitionPenalty : l * o.RepetitionPenalty;
            l -= count * o.FrequencyPenalty + o.PresencePenalty;
            logits[t] = l;
            _counts[t] = 0;
        }
    }

    /// <summary>Index of the largest logit (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
}

/// <summary>A small deterministic generator (xoshiro256**, seeded through SplitMix64): the same seed gives the same draws on every platform and runtime.</summary>
internal struct Rng
{
    private ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    private static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
