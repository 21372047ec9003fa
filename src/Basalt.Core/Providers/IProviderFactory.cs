using Basalt.Core.Catalog;
using Basalt.Core.Conversation;

namespace Basalt.Core.Providers;

/// <summary>Creates the client of one provider instance; registered under its backend type name.</summary>
public interface IProviderFactory
{
    /// <summary>The backend type this factory builds (openai, anthropic, bedrock, local).</summary>
    string Type { get; }

    /// <summary>Creates the client for one configured provider instance.</summary>
    IConverseClient Create(ProviderContext context);
}

/// <summary>What a provider factory gets: the instance's name and config, and the models it serves.</summary>
public sealed record ProviderContext(string Name, ProviderConfig Config, IReadOnlyList<ModelEntry> Models, IServiceProvider Services);
