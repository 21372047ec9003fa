using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Basalt.Core.Catalog;
using Basalt.Core.Providers;
using Basalt.Server.Auth;
using Basalt.Server.State;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Server.Tests.Fakes;

/// <summary>A real Basalt server on a free loopback port, serving the scripted provider as models
/// "scripted-model" (alias "echo") and "scripted-tools". Its store holds a Bearer key (<see cref="ApiKey"/>, sent by
/// <see cref="CreateClient"/>) and an AWS key pair (<see cref="AwsAccessKeyId"/>, <see cref="AwsSecretAccessKey"/>) for SigV4 tests.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RunningServer(WebApplication app, ScriptedProvider provider, Uri baseAddress, string dataDir, IssuedKey bearer, IssuedKey aws)
    {
        _app = app;
        Provider = provider;
        BaseAddress = baseAddress;
        DataDir = dataDir;
        ApiKey = bearer.Secret;
        ApiKeyName = bearer.Record.Name;
        AwsAccessKeyId = aws.Record.AccessKeyId!;
        AwsSecretAccessKey = aws.Secret;
    }

    /// <summary>The scripted provider behind every model.</summary>
    public ScriptedProvider Provider { get; }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseAddress { get; }

    /// <summary>The server's data directory (deleted on dispose).</summary>
    public string DataDir { get; }

    /// <summary>A Bearer key ("bsk-...") valid for every model; <see cref="CreateClient"/> sends it.</summary>
    public string ApiKey { get; }

    /// <summary>Name of <see cref="ApiKey"/> (its metrics label).</summary>
    public string ApiKeyName { get; }

    /// <summary>Access key id of an AWS key valid for every model.</summary>
    public string AwsAccessKeyId { get; }

    /// <summary>Secret access key of <see cref="AwsAccessKeyId"/>.</summary>
    public string AwsSecretAccessKey { get; }

    /// <summary>The server's services (keys, metrics, store).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The running application (tests call StopAsync on it to test shutdown).</summary>
    public WebApplication App => _app;

    /// <summary>An HttpClient for this server that sends <see cref="ApiKey"/> as a Bearer token.</summary>
    public HttpClient CreateClient()
    {
        var client = CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    /// <summary>An HttpClient for this server that sends no credentials.</summary>
    public HttpClient CreateAnonymousClient() => new() { BaseAddress = BaseAddress };

    /// <summary>An HttpClient that signs every request with Signature V4 using the fixture's AWS key (or the given one).</summary>
    public HttpClient CreateSigV4Client(string? accessKeyId = null, string? secretAccessKey = null)
        => CreateSigV4Client(CreateSigner(accessKeyId, secretAccessKey));

    /// <summary>An HttpClient that signs with <paramref name="signer"/> (tests set its knobs to break signatures).</summary>
    public HttpClient CreateSigV4Client(TestSigV4Signer signer) => new(signer) { BaseAddress = BaseAddress };

    /// <summary>A Signature V4 signer for the fixture's AWS key (or the given one), region us-east-1, service bedrock.</summary>
    public TestSigV4Signer CreateSigner(string? accessKeyId = null, string? secretAccessKey = null)
        => new(accessKeyId ?? AwsAccessKeyId, secretAccessKey ?? AwsSecretAccessKey, "us-east-1", "bedrock") { InnerHandler = new HttpClientHandler() };

    /// <summary>Creates another key in the server's store.</summary>
    public Task<IssuedKey> CreateKeyAsync(string name, bool aws = false, IReadOnlyList<string>? models = null, TimeSpan? lifetime = null)
        => Services.GetRequiredService<ApiKeys>().CreateAsync(name, aws, models, lifetime);

    /// <summary>Starts a server; <paramref name="adjust"/> changes the config, <paramref name="configureApp"/> maps extra endpoints before start.</summary>
    public static async Task<RunningServer> StartAsync(Func<BasaltConfig, BasaltConfig>? adjust = null, Action<WebApplication>? configureApp = null, Action<IServiceCollection>? configureServices = null)
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
        var app = BasaltServer.Build(config, services =>
        {
            services.AddSingleton<IProviderFactory>(provider);
            configureServices?.Invoke(services);
        });
        var keys = app.Services.GetRequiredService<ApiKeys>();
        var bearer = await keys.CreateAsync("test", aws: false);
        var aws = await keys.CreateAsync("test-aws", aws: true);
        configureApp?.Invoke(app);
        await app.StartAsync();
        return new RunningServer(app, provider, new Uri($"http://127.0.0.1:{port}/"), config.Server.DataDir, bearer, aws);
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
