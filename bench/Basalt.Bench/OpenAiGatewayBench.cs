using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Server;
using Microsoft.Extensions.DependencyInjection;

namespace Basalt.Bench;

/// <summary>Throughput of the OpenAI face over a provider that answers at once: what the gateway itself costs.
/// The load generator runs in the same process by default, so on a small machine the figure is a lower bound;
/// with --serve the server only listens, for an external generator such as wrk.</summary>
internal static class OpenAiGatewayBench
{
    private const string Model = "bench-model";

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = IntOption(args, "--seconds", 10);
        var concurrency = IntOption(args, "--concurrency", 32);
        var stream = args.Contains("--stream");
        var servePort = IntOption(args, "--serve", 0);
        var port = servePort > 0 ? servePort : FreePort();

        var config = new BasaltConfig
        {
            Server = new ServerConfig { Listen = $"127.0.0.1:{port}", DataDir = Path.Combine(Path.GetTempPath(), "basalt-bench") },
            Providers = new Dictionary<string, ProviderConfig> { ["instant"] = new() { Type = InstantProvider.TypeName } },
            Models = [new ModelEntry { Id = Model, Provider = "instant" }],
        };
        var app = BasaltServer.Build(config, s => s.AddSingleton<IProviderFactory>(new InstantProvider()));
        await app.StartAsync();
        var body = $$"""{"model":"{{Model}}","stream":{{(stream ? "true" : "false")}},"max_tokens":64,"temperature":0.2,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}""";
        if (servePort > 0)
        {
            Console.WriteLine($"serving on http://127.0.0.1:{port}/v1/chat/completions; request body: {body}");
            Console.WriteLine("press Ctrl+C to stop");
            var done = new TaskCompletionSource();
            Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
            await done.Task;
            await app.StopAsync();
            return 0;
        }

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false };
        using var client = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        var payload = Encoding.UTF8.GetBytes(body);

        // Warm up the JIT and the connection pool before measuring.
        await LoadAsync(client, payload, concurrency, TimeSpan.FromSeconds(2));
        var (count, errors, latencies) = await LoadAsync(client, payload, concurrency, TimeSpan.FromSeconds(seconds));
        await app.StopAsync();

        latencies.Sort();
        Console.WriteLine($"openai-gateway: POST /v1/chat/completions{(stream ? " (stream)" : "")}, concurrency {concurrency}, {seconds} s, {Environment.ProcessorCount} cores, in-process client");
        Console.WriteLine($"  requests: {count}, errors: {errors}");
        Console.WriteLine($"  throughput: {count / (double)seconds:F0} req/s");
        if (latencies.Count > 0)
            Console.WriteLine($"  latency ms: p50 {Percentile(latencies, 0.50):F2}, p99 {Percentile(latencies, 0.99):F2}, max {latencies[^1]:F2}");
        return errors == 0 ? 0 : 1;
    }

    private static async Task<(long Count, long Errors, List<double> Latencies)> LoadAsync(HttpClient client, byte[] payload, int concurrency, TimeSpan duration)
    {
        long count = 0, errors = 0;
        var latencies = new List<double>[concurrency];
        var stop = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task[concurrency];
        for (var w = 0; w < concurrency; w++)
        {
            var mine = latencies[w] = [];
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < stop)
                {
                    var start = Stopwatch.GetTimestamp();
                    using var content = new ByteArrayContent(payload);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    using var response = await client.PostAsync("v1/chat/completions", content);
                    await response.Content.CopyToAsync(Stream.Null);
                    if (response.StatusCode == HttpStatusCode.OK)
                        Interlocked.Increment(ref count);
                    else
                        Interlocked.Increment(ref errors);
                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            });
        }
        await Task.WhenAll(workers);
        var all = new List<double>();
        foreach (var l in latencies)
            all.AddRange(l);
        return (count, errors, all);
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    private static int IntOption(string[] args, string name, int fallback)
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

    /// <summary>A provider with no latency of its own, so the figure measures the gateway alone.</summary>
    private sealed class InstantProvider : IConverseClient, IProviderFactory
    {
        public const string TypeName = "bench-instant";

        private static readonly ConverseResponse Answer = new()
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock("The capital of France is Paris.")]),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(14, 8),
        };

        public string Type => TypeName;

        public IConverseClient Create(ProviderContext context) => this;

        public Task<ConverseResponse> ConverseAsync(ConverseRequest request, CancellationToken cancellationToken = default) => Task.FromResult(Answer);

        public async IAsyncEnumerable<ConverseStreamEvent> ConverseStreamAsync(ConverseRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.CompletedTask;
            yield return new MessageStartEvent(ConversationRole.Assistant);
            foreach (var word in new[] { "The ", "capital ", "of ", "France ", "is ", "Paris." })
                yield return new ContentBlockDeltaEvent(0, new TextDelta(word));
            yield return new ContentBlockStopEvent(0);
            yield return new MessageStopEvent(StopReason.EndTurn);
            yield return new MetadataEvent(Answer.Usage, 0);
        }

        public Task<int> CountTokensAsync(ConverseRequest request, CancellationToken cancellationToken = default) => Task.FromResult(14);

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose()
        {
        }
    }
}
