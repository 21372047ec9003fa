using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Server;

/// <summary>What the HTTP faces call: the decorated client pipeline over the model router.</summary>
public sealed class Gateway(ModelRouter router, IConverseClient client)
{
    /// <summary>The router at the bottom of the pipeline (resolves models to providers).</summary>
    public ModelRouter Router { get; } = router;

    /// <summary>The outermost client of the pipeline; faces send every call here.</summary>
    public IConverseClient Client { get; } = client;

    /// <summary>The model catalog.</summary>
    public ModelCatalog Catalog => Router.Catalog;
}
