using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;

namespace Basalt.Core.Providers;

/// <summary>The innermost client of the gateway: resolves the requested model in the catalog and
/// forwards the request, renamed to the upstream's model name, to the client of its provider.</summary>
public sealed class ModelRouter : IConverseClient
{
    private readonly ModelCatalog _catalog;
    private readonly IReadOnlyDictionary<string, IConverseClient> _providers;

    /// <summary>Creates a router over provider clients keyed by provider instance name.</summary>
    public ModelRouter(ModelCatalog catalog, IReadOnlyDictionary<string, IConverseClient> providers)
    {
        _catalog = catalog;
        _providers = providers;
    }

    /// <summary>Builds every configured provider with the registered factories.</summary>
    public static ModelRouter Create(BasaltConfig config, IEnumerable<IProviderFactory> factories, IServiceProvider services)
    {
        var byType = factories.ToDictionary(f => f.Type, StringComparer.OrdinalIgnoreCase);
        var clients = new Dictionary<string, IConverseClient>(StringComparer.Ordinal);
        foreach (var (name, providerConfig) in config.Providers)
        {
            if (!byType.TryGetValue(providerConfig.Type, out var factory))
                throw new InvalidDataException($"providers.{name}.type '{providerConfig.Type}' is not a known provider type; known: {string.Join(", ", byType.Keys)}.");
            var models = config.Models.Where(m => m.Provider == name).ToList();
            clients[name] = WithResilience(factory.Create(new ProviderContext(name, providerConfig, models, services)), name, providerConfig);
        }
        return new ModelRouter(new ModelCatalog(config.Models), clients);
    }

    /// <summary>Wraps a provider's client in its retries (outer) and per-attempt timeout (inner); the one place this happens.</summary>
    internal static IConverseClient WithResilience(IConverseClient client, string name, ProviderConfig config)
    {
        var builder = new ConverseClientBuilder(client)
            .UseRetries(new RetryOptions { MaxRetries = Math.Max(0, config.MaxRetries) });
        if (config.TimeoutSeconds > 0)
            builder.UseTimeout(TimeSpan.FromSeconds(config.TimeoutSeconds), name);
        return builder.Build();
    }

    /// <summary>The catalog this router serves.</summary>
    public ModelCatalog Catalog => _catalog;

    /// <summary>Resolves a model name to its entry and provider client, or throws ResourceNotFound.</summary>
    public (ModelEntry Entry, IConverseClient Client) Resolve(string modelId)
    {
        if (!_catalog.TryResolve(modelId, out var entry) || !_providers.TryGetValue(entry.Provider, out var client))
            throw BasaltException.NotFound($"The model '{modelId}' does not exist. List the available models with GET /foundation-models or GET /v1/models.");
        return (entry, client);
    }

    /// <inheritdoc />
    public Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var (entry, client) = Resolve(request.ModelId);
        return client.ConverseAsync(request with { ModelId = entry.Upstream }, cancellationToken);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var (entry, client) = Resolve(request.ModelId);
        return client.ConverseStreamAsync(request with { ModelId = entry.Upstream }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
    {
        var (entry, client) = Resolve(request.ModelId);
        return client.CountTokensAsync(request with { ModelId = entry.Upstream }, cancellationToken);
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        if (serviceKey is null && serviceType.IsInstanceOfType(this))
            return this;
        if (serviceKey is string name && _providers.TryGetValue(name, out var client))
            return client.GetService(serviceType);
        return null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var c in _providers.Values)
            c.Dispose();
    }
}
