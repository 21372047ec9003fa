using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Providers.Local;

/// <summary>Creates the "local" provider: GGUF models run in-process by Basalt.Engine.</summary>
internal sealed class LocalProviderFactory : IProviderFactory
{
    public string Type => "local";

    public IConverseClient Create(ProviderContext context)
    {
        var options = LocalProviderOptions.From(context.Config);
        return new LocalConverseClient(context.Name, context.Models, new LocalModelStore(EngineLocalModel.Load, options));
    }
}
