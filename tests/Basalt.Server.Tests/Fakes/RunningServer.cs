using System.Net;
using System.Net.Sockets;
using Basalt.Core.Catalog;
using Basalt.Core.Providers;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.Fakes;

/// <summary>A real Basalt server on a free loopback port, serving the scripted provider as models
/// "scripted-model" (alias "echo") and "scripted-tools".</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningServer(WebApplication app, ScriptedProvider provider, Uri baseAddress, string dataDir)
    {
        _app = app;
        Provider = provider;
        BaseAddress = baseAddress;
        DataDir = dataDir;
    }

    /// <summary>The scripted provider behind every model.</summary>
    public ScriptedProvider Provider { get; }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseAddress { get; }

    /// <summary>The server's data directory (deleted on dispose).</summary>
    public string DataDir { get; }

    /// <summary>An HttpClient for this server.</summary>
    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress };

    public static async Task<RunningServer> StartAsync(Func<BasaltConfig, BasaltConfig>? adjust = null)
    {
        var port = FreePort();
        var dataDir = Path.Combine(Path.GetTempPath(), "basalt-test-" + Guid.NewGuid().ToString("N"));
        var config = new BasaltConfig
        {
            Server = new ServerConfig { Listen = $"127.0.0.1:{port}", DataDir = dataDir },
            Providers = new Dictionary<string, ProviderConfig> { ["fake"] = new() { Type = "scripted" } },
            Models =
            [
                new ModelEntry { Id = "scripted-model", Provider = "fake", Aliases = ["echo"], ContextWindow = 4096, InputPricePerMillion = 1m, OutputPricePerMillion = 2m, DisplayName = "Scripted Model", ProviderName = "Basalt" },
                new ModelEntry { Id = "scripted-tools", Provider = "fake", ContextWindow = 8192, Capabilities = new ModelCapabilities { Tools = true } },
            ],
        };
        if (adjust is not null)
            config = adjust(config);
        var provider = new ScriptedProvider();
        var app = BasaltServer.Build(config, services => services.AddSingleton<IProviderFactory>(provider));
        await app.StartAsync();
        return new RunningServer(app, provider, new Uri($"http://127.0.0.1:{port}/"), dataDir);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
