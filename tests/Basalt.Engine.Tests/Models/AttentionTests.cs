using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Tests.Models;

public sealed class AttentionTests
{
    // The blocked attention against a double-precision softmax over the same cached (encoded) keys and values: float dot products,
    // the vector exp (a few ulps) and the online rescaling. Measured worst ~1e-6 of the largest value; the bound leaves room.
    private const double AttentionTolerance = 2e-5;

    private static ModelConfig Config(int heads, int kvHeads, int headDim, int valueHeadDim, float scale = 0, float softcap = 0, int window = 0) => new()
    {
        Architecture = "test",
        Dim = heads * headDim,
        Layers = 2,
        Heads = heads,
        KvHeads = kvHeads,
        HeadDim = headDim,
        ValueHeadDim = valueHeadDim,
        FfnDim = 16,
        VocabSize = 8,
        ContextLength = 4096,
        RopeDim = headDim,
        AttentionScale = scale,
        AttentionSoftcap = softcap,
        SlidingWindow = window,
    };

    /// <summary>A sequence's cache with random keys and values at positions [0, filled) of layer 1 (layer 0 left empty).</summary>
    private static KvCache FilledCache(ModelConfig c, KvCacheType type, int filled, int seed)
    {
        var cache = new KvCache(c, filled, type);
        var rng = new Random(seed);
        var k = new float[c.KDim];
        var v = new float[c.VDim];
        for (var p = 0; p < filled; p++)
        {
            for (var i = 0; i < k.Length; i++)
                k[i] = (float)(rng.NextDouble() * 4 - 2);
            for (var i = 0; i < v.Length; i++)
                v[i] = (float)(rng.NextDouble() * 2 - 1);
            cache.Write(1, p, k, v);
        }
        return cache;
    }

    private static double[] Decode(KvCache cache, byte[] rows, int position, int rowBytes, int offset, int n)
    {
        var bytes = rows.AsSpan(position * rowBytes + KvCache.RowBytes(cache.Type, offset), KvCache.RowBytes(cache.Type, n));
        var f = new float[n];
        TensorOps.DequantizeRow(cache.Type switch { KvCacheType.F32 => GgmlType.F32, KvCacheType.F16 => GgmlType.F16, _ => GgmlType.Q8_0 }, bytes, f);
        return Array.ConvertAll(f, x => (double)x);
    }

    /// <summary>Plain causal attention in double precision for one (token, head): positions [window start, position] of its cache.</summary>
    private static double[] Reference(ModelConfig c, KvCache cache, int position, ReadOnlySpan<float> q, int head, int window)
    {
        var kvHead = head / (c.Heads / c.KvHeads);
        var scale = c.AttentionScale > 0 ? c.AttentionScale : 1.0 / Math.Sqrt(c.HeadDim);
        var start = window > 0 ? Math.Max(0, position - window + 1) : 0;
        var scores = new double[position - start + 1];
        for (var p = start; p <= position; p++)
        {
            var key = Decode(cache, cache.Keys[1], p, cache.KeyRowBytes, kvHead * c.HeadDim, c.HeadDim);
            var dot = 0.0;
            for (var d = 0; d < c.HeadDim; d++)
                dot += q[d] * key[d];
            dot *= scale;
            if (c.AttentionSoftcap > 0)
                dot = c.AttentionSoftcap * Math.Tanh(dot / c.AttentionSoftcap);
            scores[p - start] = dot;
        }
        var max = scores.Max();
        var sum = scores.Sum(x => Math.Exp(x - max));
        var output = new double[c.ValueHeadDim];
        for (var p = start; p <= position; p++)
        {
            var value = Decode(cache, cache.Values[1], p, cache.ValueRowBytes, kvHead * c.ValueHeadDim, c.ValueHeadDim);
            var weight = Math.Exp(scores[p - start] - max) / sum;
            for (var d = 0; d < output.Length; d++)
                output[d] += weight * value[d];
        }
        return output;
    }

    /// <summary>Runs layer 1's attention for <paramref name="batch"/> (cache, position) tokens with random queries and returns the worst
    /// difference from the reference relative to the largest value.</summary>
    private static double WorstError(ModelConfig c, (KvCache Cache, int Position)[] batch, int window, int seed)
    {
        using var pool = new WorkerPool(2);
        var state = new BatchState(c, batch.Length, 4096);
        var rng = new Random(seed);
        for (var i = 0; i < state.Q.Length; i++)
            state.Q[i] = (float)(rng.NextDouble() * 2 - 1);
        for (var j = 0; j < batch.Length; j++)
        {
            state.Caches[j] = batch[j].Cache;
            state.Positions[j] = batch[j].Position;
        }
        state.Attention.Run(pool, 1, batch.Length, window);
        var worst = 0.0;
        for (var j = 0; j < batch.Length; j++)
            for (var h = 0; h < c.Heads; h++)
            {
                var expected = Reference(c, batch[j].Cache, batch[j].Position, state.Q.AsSpan(j * c.QDim + h * c.HeadDim, c.HeadDim), h, window);
                var actual = state.Att.AsSpan(j * state.AttnWidth + h * c.ValueHeadDim, c.ValueHeadDim);
                for (var d = 0; d < expected.Length; d++)
                    worst = Math.Max(worst, Math.Abs(actual[d] - expected[d]));
            }
        return worst;
    }

    private static (KvCache, int)[] Chunk(KvCache cache, int start, int count) =>
        Enumerable.Range(start, count).Select(p => (cache, p)).ToArray();

    [Theory]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.F32)]
    [InlineData(KvCacheType.Q8_0)]
    public void Run_PromptChunkMidCache_MatchesDoubleReference(KvCacheType type)
    {
        // SmolLM2-135M's heads: 9 query heads over 3 KV heads of 64; a 37-token chunk continuing a 100-position prefix.
        var c = Config(9, 3, 64, 64);
        var cache = FilledCache(c, type, 137, seed: 1);
        Assert.InRange(WorstError(c, Chunk(cache, 100, 37), 0, seed: 2), 0, AttentionTolerance);
    }

    [Theory]
    [InlineData(KvCacheType.F16, 1)]
    [InlineData(KvCacheType.F32, 2)]
    [InlineData(KvCacheType.Q8_0, 4)]
    public void Run_GroupsAndOddLengthsFromPositionZero_MatchesDoubleReference(KvCacheType type, int group)
    {
        // Head dimensions that are not multiples of 8 (F16/F32) exercise the kernels' tails; Q8_0 needs whole blocks of 32.
        var c = type == KvCacheType.Q8_0 ? Config(4 * group, 4, 32, 64) : Config(2 * group, 2, 12, 20);
        var cache = FilledCache(c, type, 53, seed: 3);
        Assert.InRange(WorstError(c, Chunk(cache, 0, 53), 0, seed: 4), 0, AttentionTolerance);
    }

    [Theory]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.Q8_0)]
    public void Run_SlidingWindowSoftcapAndScale_MatchesDoubleReference(KvCacheType type)
    {
        // Gemma-style: a window shorter than the chunk, a softcap on the scores and an explicit scale.
        var c = Config(8, 2, 32, 32, scale: 0.3f, softcap: 5f, window: 7);
        var cache = FilledCache(c, type, 70, seed: 5);
        Assert.InRange(WorstError(c, Chunk(cache, 30, 40), 7, seed: 6), 0, AttentionTolerance);
    }

    [Theory]
    [InlineData(KvCacheType.F16, 0)]
    [InlineData(KvCacheType.Q8_0, 0)]
    [InlineData(KvCacheType.F32, 300)]
    public void Run_OneTokenLongContext_SplitsAndMatchesDoubleReference(KvCacheType type, int window)
    {
        // One decoding token over 1,000 cached positions: too few items for two threads, so the range is split and merged.
        var c = Config(9, 3, 64, 64);
        var cache = FilledCache(c, type, 1001, seed: 7);
        Assert.InRange(WorstError(c, [(cache, 1000)], window, seed: 8), 0, AttentionTolerance);
    }

    [Fact]
    public void Run_BatchMixingSequencesAndTypes_MatchesDoubleReference()
    {
        // Interleaved: a prompt chunk of one sequence, decoding tokens of two others (one Q8_0), then the chunk's sequence again
        // at positions that do not follow (a separate block), and a sequence decoding far from its start.
        var c = Config(9, 3, 64, 64);
        var a = FilledCache(c, KvCacheType.F16, 90, seed: 9);
        var b = FilledCache(c, KvCacheType.Q8_0, 41, seed: 10);
        var d = FilledCache(c, KvCacheType.F32, 600, seed: 11);
        (KvCache, int)[] batch = [(a, 20), (a, 21), (a, 22), (a, 23), (a, 24), (b, 40), (d, 599), (a, 60), (a, 61), (b, 17), (a, 89)];
        Assert.InRange(WorstError(c, batch, 0, seed: 12), 0, AttentionTolerance);
    }
}
