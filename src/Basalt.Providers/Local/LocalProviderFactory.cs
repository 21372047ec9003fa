using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Engine.Store;
using Basalt.Core.Providers;
using Microsoft.Extensions.Logging;

namespace Basalt.Providers.Local;

/// <summary>Creates the "local" provider: GGUF models run in-process by Basalt.Engine.</summary>
internal sealed class LocalProviderFactory : IProviderFactory
{
    public string Type => "local";

    public IConverseClient Create(ProviderContext context)
    {
        var options = LocalProviderOptions.From(context.Config);
        var logger = (context.Services.GetService(typeof(ILoggerFactory)) as ILoggerFactory)?.CreateLogger("Basalt.Providers.Local");
        var dataDir = (context.Services.GetService(typeof(BasaltConfig)) as BasaltConfig)?.Server.DataDir ?? "data";
        var models = ResolveRegisteredNames(context.Models, new ModelStore(ModelStore.ResolveDirectory(null, dataDir)));
        return new LocalConverseClient(context.Name, models, new LocalModelStore(path => EngineLocalModel.Load(path, options), options, logger: logger));
    }

    /// <summary>Lets a catalog entry's path be a model pulled with `basalt pull` (its registered name) as well as a file.</summary>
    internal static IReadOnlyList<ModelEntry> ResolveRegisteredNames(IReadOnlyList<ModelEntry> models, ModelStore store)
    {
        var resolved = new List<ModelEntry>(models.Count);
        foreach (var m in models)
            resolved.Add(!string.IsNullOrWhiteSpace(m.Path) && !File.Exists(m.Path) && store.Resolve(m.Path) is { } path ? m with { Path = path } : m);
        return resolved;
    }
}
