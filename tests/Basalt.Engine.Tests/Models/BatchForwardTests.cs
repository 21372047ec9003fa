using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Threading;

namespace Basalt.Engine.Tests.Models;

public sealed class BatchForwardTests
{
    // With float activations, batched and one-token passes run the same arithmetic per token except the order of accumulation
    // and the online softmax, so logits agree to float rounding (relative to the largest logit).
    private const double BatchVsSingleTolerance = 1e-4;
    // On the fast path the tiled batch kernels and the single-row kernels round differently, and each layer re-quantizes its
    // activations to 8 bits, which amplifies that rounding; measured on these random models: ~0.5% Q8_0, ~1.6% K-quants.
    private const double FastPathBatchTolerance = 4e-2;
    // KV cache encodings against F32 keys and values, largest logit difference relative to the largest logit, measured on these
    // random models with float weights: F16 (11-bit mantissa) up to ~5e-4, Q8_0 (8 bits per 32-value block) up to ~1e-2.
    private const double F16KvTolerance = 2e-3;
    private const double Q8KvTolerance = 3e-2;

    private const int Context = 32;

    private sealed class Model : IDisposable
    {
        private readonly string _path;
        private readonly GgufFile _file;
        public readonly WorkerPool Pool = new(2);

        public Model(string arch, string type)
        {
            _path = Path.Combine(Path.GetTempPath(), $"basalt-batch-{arch}-{type}-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
            var shape = new ModelShape(arch, 256, 2, 4, 2, 64, 512, 300, Tied: arch != "llama");
            RandomModel.Write(_path, shape, RandomModel.TypePolicy(type, shape), seed: 11);
            _file = GgufFile.Open(_path);
            var architecture = Architecture.For(_file);
            Config = architecture.ReadConfig(_file);
            Transformer = new Transformer(Config, architecture.Bind(_file, Config), Pool);
        }

        public ModelConfig Config { get; }
        public Transformer Transformer { get; }

        /// <summary>Runs <paramref name="tokens"/> one at a time into a fresh cache and returns the logits after each.</summary>
        public float[][] OneByOne(int[] tokens, KvCacheType type, bool exact = false)
        {
            var state = new BatchState(Config, 1, Context) { ExactActivations = exact };
            var cache = new KvCache(Config, Context, type);
            var result = new float[tokens.Length][];
            for (var pos = 0; pos < tokens.Length; pos++)
            {
                Transformer.Forward(state, [new BatchToken(cache, tokens[pos], pos, 0)]);
                result[pos] = state.Logits(0).ToArray();
            }
            return result;
        }

        public void Dispose()
        {
            Pool.Dispose();
            Transformer.Weights.Dispose();
            _file.Dispose();
            File.Delete(_path);
        }
    }

    private static double WorstRelative(ReadOnlySpan<float> actual, float[] expected)
    {
        var scale = 0.0;
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]));
        }
        return worst / scale;
    }

    private static readonly int[] SequenceA = [1, 17, 260, 5, 299, 42, 42, 3, 100, 7, 9, 250];
    private static readonly int[] SequenceB = [1, 33, 4, 200, 200, 61, 2, 8];
    private static readonly int[] SequenceC = [1, 290, 15];

    [Theory]
    [InlineData("llama", "Q8_0")]
    [InlineData("llama", "Q4_K")]
    [InlineData("qwen2", "F16")]
    [InlineData("gemma2", "Q4_0")] // sliding window of 4 on alternate layers
    [InlineData("phi3", "Q6_K")]
    public void Forward_BatchMixingSequencesAtDifferentPositions_MatchesEachSequenceAlone(string arch, string type)
    {
        // Float activations on both sides, so any difference beyond rounding is the batching itself (caches, positions, masks).
        using var m = new Model(arch, type);
        var aloneA = m.OneByOne(SequenceA, KvCacheType.F16, exact: true);
        var aloneB = m.OneByOne(SequenceB, KvCacheType.F16, exact: true);
        var aloneC = m.OneByOne(SequenceC, KvCacheType.F16, exact: true);

        var state = new BatchState(m.Config, 16, Context) { ExactActivations = true };
        var a = new KvCache(m.Config, Context, KvCacheType.F16);
        var b = new KvCache(m.Config, Context, KvCacheType.F16);
        var c = new KvCache(m.Config, Context, KvCacheType.F16);
        // A's first five tokens and B's first two as prompt chunks, one batch.
        BatchToken[] first = [.. Enumerable.Range(0, 5).Select(p => new BatchToken(a, SequenceA[p], p, p == 4 ? 0 : -1)),
            new BatchToken(b, SequenceB[0], 0, -1), new BatchToken(b, SequenceB[1], 1, 1)];
        m.Transformer.Forward(state, first);
        Assert.True(WorstRelative(state.Logits(0), aloneA[4]) <= BatchVsSingleTolerance, $"A at 4: {WorstRelative(state.Logits(0), aloneA[4]):G3}");
        Assert.True(WorstRelative(state.Logits(1), aloneB[1]) <= BatchVsSingleTolerance, $"B at 1: {WorstRelative(state.Logits(1), aloneB[1]):G3}");

        // Then a batch with every position of the rest of A (a long chunk crossing the sliding window), the rest of B, and all of C,
        // interleaved, each token asking for logits.
        var second = new List<BatchToken>();
        var expected = new List<float[]>();
        for (var p = 5; p < SequenceA.Length; p++)
        {
            second.Add(new BatchToken(a, SequenceA[p], p, second.Count));
            expected.Add(aloneA[p]);
            if (p - 3 < SequenceB.Length)
            {
                second.Add(new BatchToken(b, SequenceB[p - 3], p - 3, second.Count));
                expected.Add(aloneB[p - 3]);
            }
            if (p - 5 < SequenceC.Length)
            {
                second.Add(new BatchToken(c, SequenceC[p - 5], p - 5, second.Count));
                expected.Add(aloneC[p - 5]);
            }
        }
        Assert.True(second.Count <= 16);
        m.Transformer.Forward(state, second.ToArray());
        for (var k = 0; k < second.Count; k++)
        {
            var worst = WorstRelative(state.Logits(k), expected[k]);
            Assert.True(worst <= BatchVsSingleTolerance, $"{arch} {type} batch row {k} (position {second[k].Position}): {worst:G3}");
        }
    }

    [Theory]
    [InlineData("llama", "Q8_0")]
    [InlineData("llama", "Q4_0")]
    [InlineData("qwen2", "Q4_K")]
    [InlineData("llama", "Q6_K")]
    [InlineData("llama", "Q5_0")] // 12 tokens: the small-batch kernels, as 8 and 4 concurrent decode tokens take them
    [InlineData("qwen3", "F16")]
    public void Forward_PromptChunkOnFastPath_MatchesTokenByToken(string arch, string type)
    {
        using var m = new Model(arch, type);
        var alone = m.OneByOne(SequenceA, KvCacheType.F16);
        var state = new BatchState(m.Config, 16, Context);
        var cache = new KvCache(m.Config, Context, KvCacheType.F16);
        m.Transformer.Forward(state, [.. SequenceA.Select((t, p) => new BatchToken(cache, t, p, p))]);
        for (var p = 0; p < SequenceA.Length; p++)
        {
            var worst = WorstRelative(state.Logits(p), alone[p]);
            Assert.True(worst <= FastPathBatchTolerance, $"{arch} {type} position {p}: {worst:G3}");
        }
    }

    [Theory]
    [InlineData("llama", "F32", KvCacheType.F16, F16KvTolerance)]
    [InlineData("llama", "F32", KvCacheType.Q8_0, Q8KvTolerance)]
    [InlineData("gemma2", "F16", KvCacheType.F16, F16KvTolerance)]
    [InlineData("gemma2", "F16", KvCacheType.Q8_0, Q8KvTolerance)]
    public void Forward_CompactKvCache_StaysWithinToleranceOfF32Cache(string arch, string type, KvCacheType kvType, double tolerance)
    {
        using var m = new Model(arch, type);
        var exact = m.OneByOne(SequenceA, KvCacheType.F32);
        var compact = m.OneByOne(SequenceA, kvType);
        var worst = 0.0;
        for (var p = 0; p < SequenceA.Length; p++)
            worst = Math.Max(worst, WorstRelative(compact[p], exact[p]));
        Assert.True(worst <= tolerance, $"{kvType} KV: worst relative logit difference {worst:G3} exceeds {tolerance}");
        // Not identical either: the cache really holds the compact encoding.
        Assert.True(worst > 0, "the compact cache gave bit-identical logits; it is not storing its own encoding");
    }

    [Theory]
    [InlineData(KvCacheType.F32)]
    [InlineData(KvCacheType.F16)]
    [InlineData(KvCacheType.Q8_0)]
    public void CopyTo_PrefixIntoAnotherCache_ContinuesAsTheOriginalWould(KvCacheType kvType)
    {
        using var m = new Model("llama", "Q8_0");
        var state = new BatchState(m.Config, 8, Context);
        var source = new KvCache(m.Config, Context, kvType);
        m.Transformer.Forward(state, [.. Enumerable.Range(0, 6).Select(p => new BatchToken(source, SequenceA[p], p, -1))]);
        var copy = new KvCache(m.Config, Context, kvType);
        source.CopyTo(0, copy, 0, 6);
        // The original continuing from its own cache (the same six-token pass wrote both prefixes, so the kernels' rounding is shared).
        m.Transformer.Forward(state, [new BatchToken(source, SequenceA[6], 6, 0)]);
        var original = state.Logits(0).ToArray();
        m.Transformer.Forward(state, [new BatchToken(copy, SequenceA[6], 6, 0)]);
        Assert.True(WorstRelative(state.Logits(0), original) <= BatchVsSingleTolerance, $"{kvType}: {WorstRelative(state.Logits(0), original):G3}");
        Assert.Equal(kvType, copy.Type);
        Assert.Equal((long)m.Config.Layers * Context * 2 * KvCache.RowBytes(kvType, m.Config.KDim), copy.Bytes);
    }

    [Fact]
    public void CopyTo_CacheOfAnotherType_Throws()
    {
        using var m = new Model("llama", "Q8_0");
        var f16 = new KvCache(m.Config, Context, KvCacheType.F16);
        var q8 = new KvCache(m.Config, Context, KvCacheType.Q8_0);
        var e = Assert.Throws<ArgumentException>(() => f16.CopyTo(0, q8, 0, 1));
        Assert.Contains("same model and type", e.Message);
    }

    [Fact]
    public void Forward_PositionBeyondTheCache_ThrowsWithoutWriting()
    {
        using var m = new Model("llama", "Q8_0");
        var state = new BatchState(m.Config, 4, Context);
        var cache = new KvCache(m.Config, Context, KvCacheType.F16);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => m.Transformer.Forward(state, [new BatchToken(cache, 1, Context, 0)]));
        Assert.Contains("outside the cache", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Transformer.Forward(state, new BatchToken[5].AsSpan()));
    }
}
