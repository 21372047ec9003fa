using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Server;
using Basalt.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Bench;

/// <summary>Mode "bedrock-gateway": Converse (or ConverseStream) requests through the real server and Bedrock face
/// against an instant in-process provider, at a given concurrency over loopback; prints requests/s and latency.
/// The load generator shares the machine's cores with the server, so the figure is a lower bound.</summary>
internal static class BedrockGatewayBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var concurrency = IntArg(args, "--concurrency", 32);
        var seconds = IntArg(args, "--seconds", 5);
        var stream = args.Contains("--stream");
        var port = FreePort();
        var config = new BasaltConfig
        {
            Server = new ServerConfig { Listen = $"127.0.0.1:{port}", DataDir = Path.Combine(Path.GetTempPath(), "basalt-bench-" + Guid.NewGuid().ToString("N")) },
            Providers = new Dictionary<string, ProviderConfig> { ["instant"] = new() { Type = "instant" } },
            Models = [new ModelEntry { Id = "bench-model", Provider = "instant" }],
        };
        await using var app = BasaltServer.Build(config, s => s.AddSingleton<IProviderFactory>(new InstantProvider()));
        await app.StartAsync();
        var key = await app.Services.GetRequiredService<ApiKeys>().CreateAsync("bench", aws: false);

        var path = stream ? "/model/bench-model/converse-stream" : "/model/bench-model/converse";
        var body = Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":[{"text":"Hello, how are you today?"}]}],"inferenceConfig":{"maxTokens":64,"temperature":0.2}}""");
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key.Secret);

        // Warm up the JIT and the connections.
        await RunForAsync(client, path, body, concurrency, TimeSpan.FromSeconds(1), new List<double>[concurrency]);

        var latencies = new List<double>[concurrency];
        var stopwatch = Stopwatch.StartNew();
        var (ok, failed) = await RunForAsync(client, path, body, concurrency, TimeSpan.FromSeconds(seconds), latencies);
        var elapsed = stopwatch.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).OrderBy(x => x).ToArray();
        Console.WriteLine($"bedrock-gateway {(stream ? "converse-stream" : "converse")}: concurrency {concurrency}, {seconds} s, {Environment.ProcessorCount} cores");
        Console.WriteLine($"  requests ok {ok}, failed {failed}, {ok / elapsed:F0} requests/s");
        if (all.Length > 0)
            Console.WriteLine($"  latency ms p50 {all[all.Length / 2]:F2}  p99 {all[(int)(all.Length * 0.99)]:F2}  max {all[^1]:F2}");
        await app.StopAsync();
        Directory.Delete(config.Server.DataDir, recursive: true);
        return failed == 0 ? 0 : 1;
    }

    private static async Task<(long Ok, long Failed)> RunForAsync(HttpClient client, string path, byte[] body, int concurrency, TimeSpan duration, List<double>[] latencies)
    {
        long ok = 0, failed = 0;
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var i = 0; i < concurrency; i++)
        {
            var mine = latencies[i] = new List<double>(65536);
            workers[i] = Task.Run(async () =>
            {
                var buffer = new byte[16384];
                while (Stopwatch.GetTimestamp() < end)
                {
                    var start = Stopwatch.GetTimestamp();
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new("application/json");
                    using var response = await client.PostAsync(path, content);
                    await using (var s = await response.Content.ReadAsStreamAsync())
                        while (await s.ReadAsync(buffer) > 0)
                        {
                        }
                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    if (response.IsSuccessStatusCode)
                        Interlocked.Increment(ref ok);
                    else
                        Interlocked.Increment(ref failed);
                }
            });
        }
        await Task.WhenAll(workers);
        return (ok, failed);
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Answers at once with a fixed short reply, so the figure measures the gateway, not a model.</summary>
    private sealed class InstantProvider : IConverseClient, IProviderFactory
    {
        private static readonly Message Reply = new(ConversationRole.Assistant, [new TextBlock("I am well, thank you for asking.")]);

        public string Type => "instant";

        public IConverseClient Create(ProviderContext context) => this;

        public Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default)
            => Task.FromResult(new ConverseResponse { Output = Reply, StopReason = StopReason.EndTurn, Usage = new TokenUsage(7, 8), LatencyMs = 0 });

        public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask;
            yield return new MessageStartEvent(ConversationRole.Assistant);
            foreach (var word in "I am well, thank you for asking.".Split(' '))
                yield return new ContentBlockDeltaEvent(0, new TextDelta(word + " "));
            yield return new ContentBlockStopEvent(0);
            yield return new MessageStopEvent(StopReason.EndTurn);
            yield return new MetadataEvent(new TokenUsage(7, 8), 0);
        }

        public Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default) => Task.FromResult(7);

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
