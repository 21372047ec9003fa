namespace Basalt.Core.Catalog;

/// <summary>The whole configuration snapshot (basalt.yaml), immutable once loaded and validated.</summary>
public sealed record BasaltConfig
{
    /// <summary>Server settings.</summary>
    public ServerConfig Server { get; init; } = new();

    /// <summary>Provider instances by name (for example "openai", "vllm-gpu1", "local").</summary>
    public IReadOnlyDictionary<string, ProviderConfig> Providers { get; init; } = new Dictionary<string, ProviderConfig>();

    /// <summary>The model catalog.</summary>
    public IReadOnlyList<ModelEntry> Models { get; init; } = [];
}

/// <summary>Server settings.</summary>
public sealed record ServerConfig
{
    /// <summary>Default listen address.</summary>
    public const string DefaultListen = "127.0.0.1:8700";

    /// <summary>Largest request body accepted, in bytes (protects the server; Bedrock documents 20 MB images inline).</summary>
    public const long DefaultMaxRequestBodyBytes = 32L * 1024 * 1024;

    /// <summary>host:port to listen on.</summary>
    public string Listen { get; init; } = DefaultListen;

    /// <summary>Directory for the SQLite state store, keys and models.</summary>
    public string DataDir { get; init; } = "data";

    /// <summary>PostgreSQL for the state store (postgres://user:password@host:port/database or an Npgsql connection string),
    /// for several servers sharing keys; empty means SQLite in <see cref="DataDir"/>.</summary>
    public string? Database { get; init; }

    /// <summary>Largest request body accepted, in bytes.</summary>
    public long MaxRequestBodyBytes { get; init; } = DefaultMaxRequestBodyBytes;

    /// <summary>How long shutdown waits for requests in flight, in seconds.</summary>
    public int ShutdownTimeoutSeconds { get; init; } = 30;
}

/// <summary>One provider instance: which backend type and how to reach it.</summary>
public sealed record ProviderConfig
{
    /// <summary>Backend type: openai (any OpenAI-compatible server), anthropic, bedrock, or local.</summary>
    public string Type { get; init; } = "";

    /// <summary>Base URL of the upstream API (for example http://127.0.0.1:8000/v1).</summary>
    public string? BaseUrl { get; init; }

    /// <summary>API key, inline. Prefer <see cref="ApiKeyEnv"/>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Name of the environment variable holding the API key.</summary>
    public string? ApiKeyEnv { get; init; }

    /// <summary>AWS region (bedrock).</summary>
    public string? Region { get; init; }

    /// <summary>AWS access key id (bedrock); defaults to AWS_ACCESS_KEY_ID.</summary>
    public string? AccessKeyId { get; init; }

    /// <summary>AWS secret access key (bedrock); defaults to AWS_SECRET_ACCESS_KEY.</summary>
    public string? SecretAccessKey { get; init; }

    /// <summary>AWS session token (bedrock); defaults to AWS_SESSION_TOKEN.</summary>
    public string? SessionToken { get; init; }

    /// <summary>Per-call timeout in seconds.</summary>
    public int TimeoutSeconds { get; init; } = 120;

    /// <summary>Retries on 429, 5xx and connection errors before a stream starts.</summary>
    public int MaxRetries { get; init; } = 2;

    /// <summary>Local provider: seconds a model stays loaded after its last request (default 300).</summary>
    public int? KeepAliveSeconds { get; init; }

    /// <summary>Local provider: most megabytes of model weights loaded at once (default: no limit).</summary>
    public long? MemoryBudgetMb { get; init; }

    /// <summary>Local provider: megabytes one loaded model may use in all (weights, KV caches of running requests, prefix cache);
    /// a request whose KV cache can never fit is refused (default: no limit).</summary>
    public long? ModelMemoryMb { get; init; }

    /// <summary>Local provider: megabytes of prompt prefixes each model keeps for reuse (default 256; 0 turns prompt caching off).</summary>
    public long? PrefixCacheMb { get; init; }

    /// <summary>Local provider: most requests one model decodes together (default 16); more wait.</summary>
    public int? MaxSequences { get; init; }

    /// <summary>Local provider: element type of the KV cache, f16 (default) or q8_0.</summary>
    public string? KvCacheType { get; init; }

    /// <summary>The API key, resolved from inline or environment.</summary>
    public string? ResolveApiKey() => ApiKey ?? (ApiKeyEnv is null ? null : Environment.GetEnvironmentVariable(ApiKeyEnv));
}

/// <summary>One model of the catalog.</summary>
public sealed record ModelEntry
{
    /// <summary>The id callers use (Bedrock modelId, OpenAI model).</summary>
    public string Id { get; init; } = "";

    /// <summary>Name of the provider instance that serves it.</summary>
    public string Provider { get; init; } = "";

    /// <summary>The name the upstream knows it by; defaults to <see cref="Id"/>.</summary>
    public string? UpstreamName { get; init; }

    /// <summary>Path of a GGUF file (local provider).</summary>
    public string? Path { get; init; }

    /// <summary>Human-readable name.</summary>
    public string? DisplayName { get; init; }

    /// <summary>Who made the model (shown in the catalog).</summary>
    public string? ProviderName { get; init; }

    /// <summary>Context window in tokens.</summary>
    public int ContextWindow { get; init; } = 4096;

    /// <summary>Price in USD per million input tokens.</summary>
    public decimal InputPricePerMillion { get; init; }

    /// <summary>Price in USD per million output tokens.</summary>
    public decimal OutputPricePerMillion { get; init; }

    /// <summary>What the model can do.</summary>
    public ModelCapabilities Capabilities { get; init; } = new();

    /// <summary>Other names that resolve to this model.</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The upstream's name for the model.</summary>
    public string Upstream => UpstreamName ?? Id;
}

/// <summary>What a model can do.</summary>
public sealed record ModelCapabilities
{
    /// <summary>Supports streamed responses.</summary>
    public bool Streaming { get; init; } = true;
    /// <summary>Supports tool use.</summary>
    public bool Tools { get; init; }
    /// <summary>Accepts images.</summary>
    public bool Vision { get; init; }
    /// <summary>Accepts documents.</summary>
    public bool Documents { get; init; }
    /// <summary>Supports prompt caching.</summary>
    public bool PromptCaching { get; init; }
    /// <summary>Supports structured output (response_format).</summary>
    public bool StructuredOutput { get; init; }
    /// <summary>Produces embeddings rather than text.</summary>
    public bool Embeddings { get; init; }
}
