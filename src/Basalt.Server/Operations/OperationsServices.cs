using Basalt.Core.Catalog;
using Basalt.Server.Auth;
using Basalt.Server.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Basalt.Server.Operations;

/// <summary>Registers the state store, API keys, authentication, metering and metrics.</summary>
internal static class OperationsServices
{
    /// <summary>Opens the state store now (a bad data directory fails the start, not the first request) and registers the services.</summary>
    public static IServiceCollection AddBasaltOperations(this IServiceCollection services, BasaltConfig config)
    {
        var store = StateStore.OpenAsync(config.Server).GetAwaiter().GetResult();
        services.AddSingleton(_ => store);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new ApiKeys(sp.GetRequiredService<IStateStore>(), MasterKey.LoadOrCreate(config.Server.DataDir), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<LastUsedRecorder>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<LastUsedRecorder>());
        services.AddSingleton<ServerMetrics>();
        return services;
    }

    /// <summary>Authenticates every request but the public ones (after request ids, metrics and error handling).</summary>
    public static IApplicationBuilder UseBasaltAuthentication(this IApplicationBuilder app) => app.UseMiddleware<AuthenticationMiddleware>();
}
