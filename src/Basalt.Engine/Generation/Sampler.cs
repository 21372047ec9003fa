using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    // The top-k heap: min(k, vocabulary) entries, grown on first use (top-k is usually tens, the vocabulary tens of thousands).
    private Candidate[] _candidates = [];

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

        // Candidates best first, values holding negated logits (then probabilities). With top-k only the k best are selected, in one
        // pass with a heap (ties by id); without it every candidate within the negligible gap is sorted.
        var floor = logits[ArgMax(logits)] - NegligibleLogitGap;
        var n = 0;
        if (o.TopK > 0)
        {
            n = SelectTop(logits, floor, o.TopK);
            for (var i = 0; i < n; i++)
            {
                _values[i] = -_candidates[i].Logit;
                _ids[i] = _candidates[i].Id;
            }
        }
        else
        {
            for (var i = 0; i < logits.Length; i++)
                if (logits[i] >= floor)
                {
                    _values[n] = -logits[i];
                    _ids[n++] = i;
                }
            _values.AsSpan(0, n).Sort(_ids.AsSpan(0, n));
        }
        var values = _values.AsSpan(0, n);
        var ids = _ids.AsSpan(0, n);

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

    /// <summary>A candidate token: its logit and id.</summary>
    private readonly record struct Candidate(float Logit, int Id);

    /// <summary>Higher logit first, then lower id: the order the filters walk.</summary>
    private readonly struct BestFirst : IComparer<Candidate>
    {
        public int Compare(Candidate a, Candidate b) => Worse(a, b) ? 1 : Worse(b, a) ? -1 : 0;
    }

    // True when a comes after b in the best-first order.
    private static bool Worse(Candidate a, Candidate b) => a.Logit != b.Logit ? a.Logit < b.Logit : a.Id > b.Id;

    /// <summary>The <paramref name="k"/> best logits at or above <paramref name="floor"/> into the first candidates, best first; returns
    /// how many. One pass keeps the k best so far in a min-heap (the worst at the root): a logit that does not beat the root, nearly
    /// every one once the heap is full, costs one comparison, eight at a time.</summary>
    private int SelectTop(ReadOnlySpan<float> logits, float floor, int k)
    {
        var capacity = Math.Min(k, logits.Length);
        if (_candidates.Length < capacity)
            _candidates = new Candidate[capacity];
        var heap = _candidates.AsSpan();
        var count = 0;
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var p = ref MemoryMarshal.GetReference(logits);
            for (; i + Vector256<float>.Count <= logits.Length; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref p, (nuint)i);
                // Until the heap is full anything at the floor enters; after, only what beats the root (a later id never wins a tie).
                var enters = count < k ? Vector256.GreaterThanOrEqual(v, Vector256.Create(floor)) : Vector256.GreaterThan(v, Vector256.Create(heap[0].Logit));
                if (enters == Vector256<float>.Zero)
                    continue;
                for (var lane = 0; lane < Vector256<float>.Count; lane++)
                    count = Offer(heap, count, k, floor, logits[i + lane], i + lane);
            }
        }
        for (; i < logits.Length; i++)
            count = Offer(heap, count, k, floor, logits[i], i);
        heap[..count].Sort(default(BestFirst));
        return count;
    }

    private static int Offer(Span<Candidate> heap, int count, int k, float floor, float logit, int id)
    {
        if (!(logit >= floor))
            return count;
        var c = new Candidate(logit, id);
        if (count < k)
        {
            var at = count++;
            while (at > 0)
            {
                var parent = (at - 1) >> 1;
                if (!Worse(c, heap[parent]))
                    break;
                heap[at] = heap[parent];
                at = parent;
            }
            heap[at] = c;
            return count;
        }
        if (!Worse(heap[0], c))
            return count;
        // Replace the root (the worst of the k) and sift down.
        var i = 0;
        while (true)
        {
            var child = 2 * i + 1;
            if (child >= count)
                break;
            if (child + 1 < count && Worse(heap[child + 1], heap[child]))
                child++;
            if (!Worse(heap[child], c))
                break;
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = c;
        return count;
    }

    /// <summary>Index of the largest logit (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        if (Vector256.IsHardwareAccelerated && logits.Length >= Vector256<float>.Count)
        {
            // The largest value eight lanes at a time, then its first index. With a NaN anywhere the scalar loop's comparisons define
            // the answer, so it runs instead.
            ref var p = ref MemoryMarshal.GetReference(logits);
            var best = Vector256.LoadUnsafe(ref p);
            var nan = ~Vector256.Equals(best, best);
            var i = Vector256<float>.Count;
            for (; i + Vector256<float>.Count <= logits.Length; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref p, (nuint)i);
                nan |= ~Vector256.Equals(v, v);
                best = Vector256.Max(best, v);
            }
            var max = best.GetElement(0);
            for (var lane = 1; lane < Vector256<float>.Count; lane++)
                max = MathF.Max(max, best.GetElement(lane));
            for (; i < logits.Length; i++)
            {
                nan |= Vector256.Create(float.IsNaN(logits[i]) ? -1f : 0f);
                max = MathF.Max(max, logits[i]);
            }
            if (nan == Vector256<float>.Zero)
                return logits.IndexOf(max);
        }
        var first = 0;
        for (var j = 1; j < logits.Length; j++)
            if (logits[j] > logits[first])
                first = j;
        return first;
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
