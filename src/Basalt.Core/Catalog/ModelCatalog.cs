namespace Basalt.Core.Catalog;

/// <summary>Resolves model ids and aliases to catalog entries.</summary>
public sealed class ModelCatalog
{
    private readonly Dictionary<string, ModelEntry> _byName = new(StringComparer.Ordinal);

    /// <summary>Builds the catalog of a validated config.</summary>
    public ModelCatalog(IReadOnlyList<ModelEntry> models)
    {
        Models = models;
        foreach (var m in models)
        {
            _byName[m.Id] = m;
            foreach (var a in m.Aliases)
                _byName[a] = m;
        }
    }

    /// <summary>Every model, in config order.</summary>
    public IReadOnlyList<ModelEntry> Models { get; }

    /// <summary>Finds a model by id or alias.</summary>
    public bool TryResolve(string name, out ModelEntry entry) => _byName.TryGetValue(name, out entry!);
}
