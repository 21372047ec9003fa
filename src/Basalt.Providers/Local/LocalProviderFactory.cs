using Basalt.Core.Conversation;
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
        return new LocalConverseClient(context.Name, context.Models, new LocalModelStore(EngineLocalModel.Load, options, logger: logger));
    }
}
