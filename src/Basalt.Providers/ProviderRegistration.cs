using Basalt.Core.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Providers;

/// <summary>Registers every built-in provider factory.</summary>
public static class ProviderRegistration
{
    /// <summary>Adds the built-in provider factories (openai, anthropic, bedrock, local).</summary>
    public static IServiceCollection AddBasaltProviders(this IServiceCollection services)
    {
        services.AddSingleton<IProviderFactory, OpenAi.OpenAiProviderFactory>();
        services.AddSingleton<IProviderFactory, Anthropic.AnthropicProviderFactory>();
        services.AddSingleton<IProviderFactory, Bedrock.BedrockProviderFactory>();
        services.AddSingleton<IProviderFactory, Local.LocalProviderFactory>();
        return services;
    }
}
