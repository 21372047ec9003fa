using Basalt.Core.Catalog;
using Basalt.Engine.Generation;

namespace Basalt.Providers.Local;

/// <summary>Settings of the local provider, read from its providers.NAME entry.</summary>
internal sealed record LocalProviderOptions
{
    /// <summary>How long a model stays loaded after its last request (ollama's default is the same 5 minutes).</summary>
    public static readonly TimeSpan DefaultKeepAlive = TimeSpan.FromMinutes(5);

    /// <summary>Most sequences one model decodes together unless configured.</summary>
    public const int DefaultMaxSequences = 16;

    /// <summary>Idle time after which a model is unloaded.</summary>
    public TimeSpan KeepAlive { get; init; } = DefaultKeepAlive;

    /// <summary>Most bytes of weights loaded at once; 0 for no limit.</summary>
    public long MemoryBudgetBytes { get; init; }

    /// <summary>Bytes one model may use for weights, running KV caches and its prefix cache; 0 for no limit.</summary>
    public long ModelMemoryBytes { get; init; }

    /// <summary>Bytes of prompt prefixes each model keeps.</summary>
    public long PrefixCacheBytes { get; init; } = SchedulerOptions.DefaultPrefixCacheBytes;

    /// <summary>Most requests one model decodes together.</summary>
    public int MaxSequences { get; init; } = DefaultMaxSequences;

    /// <summary>KV cache element type name: f16 or q8_0.</summary>
    public string KvCacheType { get; init; } = "f16";

    public static LocalProviderOptions From(ProviderConfig config)
    {
        const long Mb = 1024L * 1024L;
        if (config.MaxSequences is < 1 or > SequenceScheduler.MaxSequencesLimit)
            throw new InvalidDataException($"providers: maxSequences must be between 1 and {SequenceScheduler.MaxSequencesLimit}, got {config.MaxSequences}.");
        if (config.PrefixCacheMb is < 0)
            throw new InvalidDataException($"providers: prefixCacheMb cannot be negative, got {config.PrefixCacheMb}.");
        if (config.ModelMemoryMb is < 0)
            throw new InvalidDataException($"providers: modelMemoryMb cannot be negative, got {config.ModelMemoryMb}.");
        var kv = (config.KvCacheType ?? "f16").ToLowerInvariant();
        if (kv is not ("f16" or "q8_0"))
            throw new InvalidDataException($"providers: kvCacheType must be f16 or q8_0, got '{config.KvCacheType}'.");
        return new()
        {
            KeepAlive = config.KeepAliveSeconds is { } s ? TimeSpan.FromSeconds(s) : DefaultKeepAlive,
            MemoryBudgetBytes = (config.MemoryBudgetMb ?? 0) * Mb,
            ModelMemoryBytes = (config.ModelMemoryMb ?? 0) * Mb,
            PrefixCacheBytes = config.PrefixCacheMb is { } p ? p * Mb : SchedulerOptions.DefaultPrefixCacheBytes,
            MaxSequences = config.MaxSequences ?? DefaultMaxSequences,
            KvCacheType = kv,
        };
    }
}
