using Basalt.Core.Catalog;

namespace Basalt.Providers.Local;

/// <summary>Settings of the local provider, read from its providers.NAME entry.</summary>
internal sealed record LocalProviderOptions
{
    /// <summary>How long a model stays loaded after its last request (ollama's default is the same 5 minutes).</summary>
    public static readonly TimeSpan DefaultKeepAlive = TimeSpan.FromMinutes(5);

    /// <summary>Idle time after which a model is unloaded.</summary>
    public TimeSpan KeepAlive { get; init; } = DefaultKeepAlive;

    /// <summary>Most bytes of weights loaded at once; 0 for no limit.</summary>
    public long MemoryBudgetBytes { get; init; }

    public static LocalProviderOptions From(ProviderConfig config) => new()
    {
        KeepAlive = config.KeepAliveSeconds is { } s ? TimeSpan.FromSeconds(s) : DefaultKeepAlive,
        MemoryBudgetBytes = (config.MemoryBudgetMb ?? 0) * 1024L * 1024L,
    };
}
