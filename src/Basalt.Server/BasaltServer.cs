using Basalt.Core.Catalog;
using Basalt.Core.Pipeline;
using Basalt.Core.Providers;
using Basalt.Providers;
using Basalt.Server.Auth;
using Basalt.Server.Bedrock;
using Basalt.Server.Guardrails;
using Basalt.Server.Customization;
using Basalt.Server.Hosting;
using Basalt.Server.Metering;
using Basalt.Server.Operations;
using Basalt.Server.OpenAi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Basalt.Server;

/// <summary>Builds the Basalt HTTP server around a configuration snapshot.</summary>
public static class BasaltServer
{
    /// <summary>Creates the web application; <paramref name="configureServices"/> lets tests and hosts add or replace services.</summary>
    public static WebApplication Build(BasaltConfig config, Action<IServiceCollection>? configureServices = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // An enabled hosting logger makes ASP.NET Core start an Activity and a log scope per request (and HttpClient then a
        // child Activity per upstream call). It logs request start/stop at Information; unhandled errors are still logged by
        // ErrorMiddleware and Kestrel.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        // Kestrel warns at bind that cleartext HTTP/2 is off; CleartextHttp2 serves it anyway.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        builder.WebHost.UseUrls("http://" + config.Server.Listen);
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = config.Server.MaxRequestBodyBytes;
            o.AddServerHeader = false;
            o.ConfigureEndpointDefaults(listen => listen.UseCleartextHttp2());
            // h2c requests carry :scheme http on a connection CleartextHttp2 marks as negotiated.
            o.AllowAlternateSchemes = true;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(config.Server.ShutdownTimeoutSeconds));

        builder.Services.AddSingleton(config);
        builder.Services.AddBasaltProviders();
        builder.Services.AddSingleton(sp => ModelRouter.Create(config, sp.GetServices<IProviderFactory>(), sp));
        builder.Services.AddBasaltOperations(config);
        builder.Services.AddSingleton(sp =>
        {
            var router = sp.GetRequiredService<ModelRouter>();
            var pipeline = new ConverseClientBuilder(router)
                .UseModelAccess(router.Catalog)
                .UseGuardrails(sp.GetRequiredService<GuardrailRegistry>())
                .UseMetering(router.Catalog, sp.GetRequiredService<ServerMetrics>())
                .UseCustomModels(router.Catalog, sp.GetRequiredService<CustomModels>(), sp.GetServices<IProviderFactory>(), sp);
            return new Gateway(router, pipeline.Build());
        });
        builder.Services.AddSingleton<IErrorFormat, BedrockErrorFormat>();
        builder.Services.AddSingleton<ErrorFormats>();
        builder.Services.AddOpenAiFace();
        builder.Services.AddGuardrails();
        builder.Services.AddModelCustomization();
        configureServices?.Invoke(builder.Services);

        var app = builder.Build();
        // Build the providers now, so a bad provider config fails at start rather than on the first request.
        _ = app.Services.GetRequiredService<Gateway>();
        app.UseMiddleware<RequestIdMiddleware>();
        app.UseMiddleware<RequestMetricsMiddleware>();
        app.UseMiddleware<ErrorMiddleware>();
        app.UseBasaltAuthentication();
        // Faces and operations endpoints are mapped below, one line each.
        app.MapOperations();
        app.MapBedrockRuntime();
        app.MapOpenAi();
        app.MapGuardrails();
        app.MapModelCustomization();
        return app;
    }
}
