using System.Collections.Concurrent;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;
using Basalt.Core.Providers;
using Basalt.Server.State;

namespace Basalt.Server.Customization;

/// <summary>The custom models customization jobs produced, by name, read from the state store (so a model registered by
/// another server on a shared database is found too).</summary>
public sealed class CustomModels(IStateStore store)
{
    private readonly ConcurrentDictionary<string, CustomModelRecord> _byName = new(StringComparer.Ordinal);

    /// <summary>The model named <paramref name="name"/> (or its ARN), or null.</summary>
    public async Task<CustomModelRecord?> FindAsync(string name, CancellationToken cancellationToken = default)
    {
        var slash = name.IndexOf(":custom-model/", StringComparison.Ordinal);
        if (name.StartsWith("arn:", StringComparison.Ordinal) && slash > 0)
            name = name[(slash + ":custom-model/".Length)..];
        if (_byName.TryGetValue(name, out var known))
            return known;
        var row = await store.FindCustomModelAsync(name, cancellationToken);
        if (row is null)
            return null;
        var record = CustomModelRecord.FromJson(row.Json);
        _byName[name] = record;
        return record;
    }

    /// <summary>Every custom model, oldest first.</summary>
    public async Task<IReadOnlyList<CustomModelRecord>> ListAsync(CancellationToken cancellationToken = default)
        => (await store.ListCustomModelsAsync(cancellationToken)).Select(r => CustomModelRecord.FromJson(r.Json)).ToList();

    /// <summary>Registers a model; throws <see cref="DuplicateNameException"/> when the name is taken.</summary>
    public async Task RegisterAsync(CustomModelRecord model, CancellationToken cancellationToken = default)
    {
        await store.InsertCustomModelAsync(new StoredDocument(model.JobId, model.Name, "Active", model.CreationTime, model.ToJson()), cancellationToken);
        _byName[model.Name] = model;
    }
}

/// <summary>Serves custom models through the gateway: a call to a name the catalog does not know but a customization job
/// produced goes to a local-engine client for its GGUF; everything else passes to the router. Sits innermost, so model
/// access, metering and every face apply to custom models as to catalog ones.</summary>
internal sealed class CustomModelClient(IConverseClient inner, ModelCatalog catalog, CustomModels models, IProviderFactory localFactory, IServiceProvider services)
    : DelegatingConverseClient(inner)
{
    /// <summary>Provider name custom models are served under.</summary>
    public const string ProviderName = "custom";

    private readonly ConcurrentDictionary<string, Lazy<IConverseClient>> _clients = new(StringComparer.Ordinal);

    public override async Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => await (await ClientForAsync(request.ModelId, cancellationToken)).ConverseAsync(request, cancellationToken);

    public override async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var client = await ClientForAsync(request.ModelId, cancellationToken);
        await foreach (var e in client.ConverseStreamAsync(request, cancellationToken).WithCancellation(cancellationToken))
            yield return e;
    }

    public override async Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default)
        => await (await ClientForAsync(request.ModelId, cancellationToken)).CountTokensAsync(request, cancellationToken);

    private async ValueTask<IConverseClient> ClientForAsync(string modelId, CancellationToken cancellationToken)
    {
        if (catalog.TryResolve(modelId, out _))
            return Inner;
        if (_clients.TryGetValue(modelId, out var cached))
            return cached.Value;
        var model = await models.FindAsync(modelId, cancellationToken);
        if (model is null)
            return Inner; // the router answers ResourceNotFound
        return _clients.GetOrAdd(modelId, _ => new Lazy<IConverseClient>(() =>
        {
            var entry = new ModelEntry
            {
                Id = modelId,
                Provider = ProviderName,
                Path = model.Path,
                ContextWindow = model.ContextWindow > 0 ? model.ContextWindow : 4096,
                DisplayName = model.Name,
                ProviderName = "Basalt",
            };
            return localFactory.Create(new ProviderContext(ProviderName, new ProviderConfig { Type = "local" }, [entry], services));
        })).Value;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var c in _clients.Values)
                if (c.IsValueCreated)
                    c.Value.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>Builder extension for <see cref="CustomModelClient"/>.</summary>
internal static class CustomModelBuilderExtensions
{
    /// <summary>Serves the custom models customization jobs produced.</summary>
    public static ConverseClientBuilder UseCustomModels(this ConverseClientBuilder builder, ModelCatalog catalog, CustomModels models, IEnumerable<IProviderFactory> factories, IServiceProvider services)
    {
        var local = factories.FirstOrDefault(f => string.Equals(f.Type, "local", StringComparison.OrdinalIgnoreCase));
        return local is null ? builder : builder.Use(inner => new CustomModelClient(inner, catalog, models, local, services));
    }
}
