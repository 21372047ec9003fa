using Basalt.Engine.Generation;
using Basalt.Engine.Models;

namespace Basalt.Engine.Tests.Generation;

public sealed class PrefixCacheTests
{
    private const int Block = 4;

    private static readonly ModelConfig Tiny = new()
    {
        Architecture = "llama", Dim = 8, Layers = 2, Heads = 2, KvHeads = 1, HeadDim = 4, ValueHeadDim = 4,
        FfnDim = 8, VocabSize = 32, ContextLength = 64, RopeDim = 4,
    };

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static PrefixCache Create(int blocks, TimeProvider? time = null)
    {
        var blockBytes = SequenceScheduler.KvBytesPerToken(Tiny, KvCacheType.F16) * Block;
        return new PrefixCache(Block, blockBytes, blocks * blockBytes, () => new KvCache(Tiny, Block), time);
    }

    /// <summary>A sequence cache whose every key and value byte depends on its layer and index.</summary>
    private static KvCache Filled(int positions)
    {
        var kv = new KvCache(Tiny, positions);
        for (var l = 0; l < Tiny.Layers; l++)
            for (var i = 0; i < kv.Keys[l].Length; i++)
            {
                kv.Keys[l][i] = (byte)(l * 31 + i);
                kv.Values[l][i] = (byte)(l * 17 + 3 * i + 1);
            }
        return kv;
    }

    private static int[] Tokens(params int[] t) => t;

    [Fact]
    public void Lookup_AfterInsert_FindsTheFullBlocksAndRestoresTheirKeysAndValues()
    {
        var cache = Create(blocks: 8);
        var prompt = Tokens(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        var source = Filled(16);
        cache.Insert(prompt, prompt.Length, source);
        Assert.Equal(2, cache.Count); // 10 tokens: two full blocks, the partial one is not kept

        var hits = new List<PrefixCache.Block>();
        var found = cache.Lookup(Tokens(1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12), 100, hits);
        Assert.Equal(8, found);
        var restored = new KvCache(Tiny, 16);
        cache.Restore(hits, restored);
        for (var l = 0; l < Tiny.Layers; l++)
        {
            Assert.Equal(source.Keys[l].AsSpan(0, 8 * source.KeyRowBytes).ToArray(), restored.Keys[l].AsSpan(0, 8 * source.KeyRowBytes).ToArray());
            Assert.Equal(source.Values[l].AsSpan(0, 8 * source.ValueRowBytes).ToArray(), restored.Values[l].AsSpan(0, 8 * source.ValueRowBytes).ToArray());
            Assert.All(restored.Keys[l].AsSpan(8 * source.KeyRowBytes).ToArray(), b => Assert.Equal(0, b)); // nothing past the hit
        }
    }

    [Fact]
    public void Lookup_SameBlockAfterADifferentPrefix_Misses()
    {
        var cache = Create(blocks: 8);
        cache.Insert(Tokens(1, 2, 3, 4, 5, 6, 7, 8), 8, Filled(8));
        var hits = new List<PrefixCache.Block>();
        // The second block's tokens match, but its keys and values depend on the first block, which differs.
        Assert.Equal(0, cache.Lookup(Tokens(9, 2, 3, 4, 5, 6, 7, 8), 8, hits));
        Assert.Empty(hits);
    }

    [Fact]
    public void Lookup_MaxTokens_NeverReturnsMoreThanAsked()
    {
        var cache = Create(blocks: 8);
        var prompt = Tokens(1, 2, 3, 4, 5, 6, 7, 8);
        cache.Insert(prompt, 8, Filled(8));
        // A caller recomputes the last prompt token for its logits, so it asks for at most length - 1.
        Assert.Equal(4, cache.Lookup(prompt, prompt.Length - 1, []));
    }

    [Fact]
    public void Insert_OverBudget_EvictsTheLeastRecentlyUsedLeafFirst()
    {
        var cache = Create(blocks: 3);
        var a = Tokens(1, 1, 1, 1, 2, 2, 2, 2);
        var b = Tokens(3, 3, 3, 3, 4, 4, 4, 4);
        cache.Insert(a, 8, Filled(8));
        cache.Insert(b, 8, Filled(8)); // a fourth block: a's leaf (least recently used) goes, its root stays
        Assert.Equal(3, cache.Count);
        Assert.Equal(4, cache.Lookup(a, 8, []));
        Assert.Equal(8, cache.Lookup(b, 8, []));
    }

    [Fact]
    public void Insert_PinnedPrefix_SurvivesEvictionUntilItsTtlRunsOut()
    {
        var time = new ManualTime();
        var cache = Create(blocks: 2, time);
        var pinned = Tokens(1, 1, 1, 1, 2, 2, 2, 2);
        Assert.Equal(8, cache.Insert(pinned, 8, Filled(8), [new CachePoint(8, CachePoint.DefaultTtl)]));
        cache.Insert(Tokens(5, 5, 5, 5), 4, Filled(4)); // no room: nothing unpinned to evict
        Assert.Equal(8, cache.Lookup(pinned, 8, []));

        time.Now += TimeSpan.FromMinutes(6);
        cache.Insert(Tokens(5, 5, 5, 5), 4, Filled(4));
        Assert.Equal(4, cache.Lookup(Tokens(5, 5, 5, 5), 4, []));
        Assert.Equal(4, cache.Lookup(pinned, 8, [])); // the expired pin's leaf was evicted
    }

    [Fact]
    public void Lookup_HitOnAPinnedPrefix_ResetsItsTtl()
    {
        var time = new ManualTime();
        var cache = Create(blocks: 1, time);
        var pinned = Tokens(1, 1, 1, 1);
        cache.Insert(pinned, 4, Filled(4), [new CachePoint(4, CachePoint.DefaultTtl)]);
        time.Now += TimeSpan.FromMinutes(4);
        Assert.Equal(4, cache.Lookup(pinned, 4, []));
        time.Now += TimeSpan.FromMinutes(4); // 8 minutes after the write, 4 after the hit
        cache.Insert(Tokens(7, 7, 7, 7), 4, Filled(4));
        Assert.Equal(4, cache.Lookup(pinned, 4, []));
        Assert.Equal(0, cache.Lookup(Tokens(7, 7, 7, 7), 4, []));
    }

    [Fact]
    public void Insert_OneHourTtl_KeepsThePinPastFiveMinutes()
    {
        var time = new ManualTime();
        var cache = Create(blocks: 1, time);
        var pinned = Tokens(1, 1, 1, 1);
        cache.Insert(pinned, 4, Filled(4), [new CachePoint(4, CachePoint.LongTtl)]);
        time.Now += TimeSpan.FromMinutes(30);
        cache.Insert(Tokens(7, 7, 7, 7), 4, Filled(4));
        Assert.Equal(4, cache.Lookup(pinned, 4, []));
        time.Now += TimeSpan.FromMinutes(61);
        cache.Insert(Tokens(7, 7, 7, 7), 4, Filled(4));
        Assert.Equal(0, cache.Lookup(pinned, 4, []));
    }

    [Fact]
    public void Insert_AlreadyCachedPinnedPrefix_ReportsNoNewWrite()
    {
        var cache = Create(blocks: 8);
        var prompt = Tokens(1, 2, 3, 4, 5, 6, 7, 8, 9);
        CachePoint[] pins = [new CachePoint(9, CachePoint.DefaultTtl)];
        Assert.Equal(8, cache.Insert(prompt, 9, Filled(12), pins));
        Assert.Equal(0, cache.Insert(prompt, 9, Filled(12), pins));
        // Only blocks that end at or before the cache point are pinned writes.
        Assert.Equal(4, cache.Insert(Tokens(1, 2, 3, 4, 9, 9, 9, 9, 8, 8, 8, 8), 12, Filled(12), [new CachePoint(8, CachePoint.DefaultTtl)]));
    }

    [Fact]
    public void TrimTo_FreesUnpinnedBlocksForRunningSequences()
    {
        var cache = Create(blocks: 4);
        cache.Insert(Tokens(1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), 12, Filled(12));
        var held = cache.TrimTo(cache.BlockBytes);
        Assert.Equal(cache.BlockBytes, held);
        Assert.Equal(4, cache.Lookup(Tokens(1, 1, 1, 1, 2, 2, 2, 2), 8, [])); // the root stays, leaves went first
    }
}
