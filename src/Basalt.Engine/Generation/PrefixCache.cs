using Basalt.Engine.Models;

namespace Basalt.Engine.Generation;

/// <summary>A prompt prefix to keep cached: the first <see cref="Tokens"/> tokens, pinned for <see cref="Ttl"/> after each hit
/// (a Converse cachePoint).</summary>
public readonly record struct CachePoint(int Tokens, TimeSpan Ttl)
{
    /// <summary>Bedrock's default cache point lifetime.</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromMinutes(5);
    /// <summary>The longer lifetime a cachePoint asks for with ttl "1h".</summary>
    public static readonly TimeSpan LongTtl = TimeSpan.FromHours(1);
}

/// <summary>Keys and values of prompt prefixes, kept in blocks of <see cref="BlockTokens"/> tokens so any later prompt sharing a
/// prefix reuses them. A block is keyed by a hash of its tokens chained with its parent's hash (as vLLM's automatic prefix
/// caching), so a block stands for the whole prefix up to its end. Blocks live within a byte budget and the least recently
/// used leaf goes first; blocks under a cache point are pinned until their TTL (reset by each hit) runs out.
/// Thread-safe.</summary>
internal sealed class PrefixCache
{
    /// <summary>Tokens per block (vLLM's default block size).</summary>
    public const int DefaultBlockTokens = 16;

    private const ulong RootHash = 0xcbf29ce484222325UL;

    internal sealed class Block(ulong hash, Block? parent, int[] tokens, KvCache kv)
    {
        public readonly ulong Hash = hash;
        public readonly Block? Parent = parent;
        public readonly int[] Tokens = tokens;
        public readonly KvCache Kv = kv;
        public int Children;
        public DateTimeOffset PinnedUntil;
        public TimeSpan PinTtl;
        public LinkedListNode<Block>? Node;
        public bool Evicted;
    }

    private readonly Dictionary<ulong, Block> _blocks = [];
    private readonly LinkedList<Block> _lru = new(); // first: least recently used
    private readonly Func<KvCache> _allocate;
    private readonly TimeProvider _time;
    private long _budget;

    /// <param name="blockTokens">Tokens per block.</param>
    /// <param name="blockBytes">Bytes one block's keys and values take.</param>
    /// <param name="budgetBytes">Most bytes the cache holds.</param>
    /// <param name="allocate">Allocates the storage of one block (a KV cache of <paramref name="blockTokens"/> positions).</param>
    /// <param name="time">Clock for the pins' TTLs.</param>
    public PrefixCache(int blockTokens, long blockBytes, long budgetBytes, Func<KvCache> allocate, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockBytes, 1);
        BlockTokens = blockTokens;
        BlockBytes = blockBytes;
        _budget = Math.Max(0, budgetBytes);
        _allocate = allocate;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Tokens per block.</summary>
    public int BlockTokens { get; }
    /// <summary>Bytes per block.</summary>
    public long BlockBytes { get; }

    /// <summary>Bytes of blocks held now.</summary>
    public long Bytes
    {
        get { lock (_blocks) return _blocks.Count * BlockBytes; }
    }

    /// <summary>Blocks held now.</summary>
    public int Count
    {
        get { lock (_blocks) return _blocks.Count; }
    }

    /// <summary>Most bytes the cache may hold.</summary>
    public long BudgetBytes
    {
        get { lock (_blocks) return _budget; }
    }

    /// <summary>Finds the cached blocks that begin <paramref name="tokens"/>, at most <paramref name="maxTokens"/> tokens' worth,
    /// into <paramref name="hits"/>, marks them recently used and resets the TTL of pinned ones; returns the tokens they cover.</summary>
    public int Lookup(ReadOnlySpan<int> tokens, int maxTokens, List<Block> hits)
    {
        hits.Clear();
        var n = Math.Min(tokens.Length, maxTokens) / BlockTokens;
        lock (_blocks)
        {
            Block? parent = null;
            for (var i = 0; i < n; i++)
            {
                var chunk = tokens.Slice(i * BlockTokens, BlockTokens);
                if (Find(parent, chunk) is not { } block)
                    break;
                hits.Add(block);
                parent = block;
            }
            // Touch leaf first so that parents end up more recent than their children: eviction takes leaves first.
            var now = _time.GetUtcNow();
            for (var i = hits.Count - 1; i >= 0; i--)
            {
                var b = hits[i];
                _lru.Remove(b.Node!);
                _lru.AddLast(b.Node!);
                if (b.PinTtl > TimeSpan.Zero && b.PinnedUntil > now)
                    b.PinnedUntil = now + b.PinTtl;
            }
        }
        return hits.Count * BlockTokens;
    }

    /// <summary>Copies the keys and values of <paramref name="hits"/> (from <see cref="Lookup"/>) into positions 0.. of
    /// <paramref name="destination"/>. Blocks evicted since the lookup still hold their data, which stays valid.</summary>
    public void Restore(List<Block> hits, KvCache destination)
    {
        for (var i = 0; i < hits.Count; i++)
            hits[i].Kv.CopyTo(0, destination, i * BlockTokens, BlockTokens);
    }

    /// <summary>Stores the full blocks of the first <paramref name="count"/> tokens of <paramref name="tokens"/> whose keys and
    /// values <paramref name="source"/> holds at the same positions, and pins the blocks under each cache point. Returns the
    /// tokens of pinned blocks newly written (the cache write a caller is told of).</summary>
    public int Insert(ReadOnlySpan<int> tokens, int count, KvCache source, IReadOnlyList<CachePoint>? pins = null)
    {
        var n = Math.Min(tokens.Length, count) / BlockTokens;
        var written = 0;
        lock (_blocks)
        {
            var now = _time.GetUtcNow();
            Block? parent = null;
            for (var i = 0; i < n; i++)
            {
                var chunk = tokens.Slice(i * BlockTokens, BlockTokens);
                var ttl = PinTtl(pins, (i + 1) * BlockTokens);
                var block = Find(parent, chunk);
                if (block is null)
                {
                    var hash = Hash(parent?.Hash ?? RootHash, chunk);
                    if (_blocks.ContainsKey(hash) || !MakeRoom(BlockBytes))
                        break; // a hash collision (never seen in practice) or a budget full of pinned blocks: cache no further
                    block = new Block(hash, parent, chunk.ToArray(), _allocate());
                    source.CopyTo(i * BlockTokens, block.Kv, 0, BlockTokens);
                    block.Node = _lru.AddLast(block);
                    _blocks[hash] = block;
                    if (parent is not null)
                        parent.Children++;
                    if (ttl > TimeSpan.Zero)
                        written += BlockTokens;
                }
                if (ttl > TimeSpan.Zero)
                {
                    if (block.PinTtl < ttl)
                        block.PinTtl = ttl;
                    if (block.PinnedUntil < now + ttl)
                        block.PinnedUntil = now + ttl;
                }
                parent = block;
            }
        }
        return written;
    }

    /// <summary>Changes the budget, evicting what no longer fits (pinned blocks stay).</summary>
    public void Resize(long budgetBytes)
    {
        lock (_blocks)
        {
            _budget = Math.Max(0, budgetBytes);
            MakeRoom(0);
        }
    }

    /// <summary>Evicts unpinned blocks, least recently used leaves first, until at most <paramref name="bytes"/> are held;
    /// returns the bytes held after.</summary>
    public long TrimTo(long bytes)
    {
        lock (_blocks)
        {
            EvictUntil(bytes);
            return _blocks.Count * BlockBytes;
        }
    }

    private bool MakeRoom(long extra) => EvictUntil(_budget - extra);

    private bool EvictUntil(long target)
    {
        if (_blocks.Count * BlockBytes <= target)
            return true;
        var now = _time.GetUtcNow();
        var node = _lru.First;
        while (node is not null && _blocks.Count * BlockBytes > target)
        {
            var next = node.Next;
            var b = node.Value;
            if (b.Children == 0 && b.PinnedUntil <= now)
            {
                _lru.Remove(node);
                _blocks.Remove(b.Hash);
                b.Evicted = true;
                if (b.Parent is { } p)
                {
                    p.Children--;
                    // The parent may have just become an evictable leaf; it sits later in the list unless it was older.
                    if (p.Children == 0 && p.Node!.List is not null && IsBefore(p.Node, next))
                        next = p.Node;
                }
            }
            node = next;
        }
        return _blocks.Count * BlockBytes <= target;
    }

    private static bool IsBefore(LinkedListNode<Block> a, LinkedListNode<Block>? b)
    {
        if (b is null)
            return true;
        for (var n = a; n is not null; n = n.Next)
            if (n == b)
                return true;
        return false;
    }

    private Block? Find(Block? parent, ReadOnlySpan<int> chunk)
    {
        if (!_blocks.TryGetValue(Hash(parent?.Hash ?? RootHash, chunk), out var block))
            return null;
        // The hash stands for the whole prefix; check it really is this one, so a collision can never change output.
        return block.Parent == parent && chunk.SequenceEqual(block.Tokens) ? block : null;
    }

    private static TimeSpan PinTtl(IReadOnlyList<CachePoint>? pins, int blockEnd)
    {
        var ttl = TimeSpan.Zero;
        if (pins is not null)
            foreach (var p in pins)
                if (p.Tokens >= blockEnd && p.Ttl > ttl)
                    ttl = p.Ttl;
        return ttl;
    }

    /// <summary>64-bit hash of a block's tokens chained with its parent's (FNV-1a over the token words, then a final mix).</summary>
    internal static ulong Hash(ulong parent, ReadOnlySpan<int> tokens)
    {
        var h = parent;
        foreach (var t in tokens)
        {
            h ^= (uint)t;
            h *= 0x100000001b3UL;
            h ^= h >> 29;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        return h;
    }
}
