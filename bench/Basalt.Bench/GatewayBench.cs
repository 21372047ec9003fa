using System.Net.Http.Headers;
using System.Text;
using Basalt.Core.Catalog;
using Basalt.Server;
using Basalt.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Basalt.Bench;

/// <summary>Gateway overhead: the same non-streamed chat sent straight to a fast loopback OpenAI-compatible
/// upstream and through Basalt (OpenAI face and Bedrock Converse face, authenticated with a Bearer key, routed by
/// the real OpenAI-compatible provider), at several concurrencies. Added latency = through-Basalt minus direct.
/// Client, gateway and upstream share the machine's cores, so the figures are lower bounds for the gateway.</summary>
internal static class GatewayBench
{
    private const string OpenAiBody = """{"model":"bench","max_tokens":64,"temperature":0.2,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is the capital of France?"}]}""";
    private const string ConverseBody = """{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"What is the capital of France?"}]}],"inferenceConfig":{"maxTokens":64,"temperature":0.2}}""";

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = Options.Int(args, "--seconds", 5);
        var concurrencies = Options.IntList(args, "--concurrency", [1, 8, 32]);

        await using var upstream = await FastUpstream.StartAsync();
        var port = FastUpstream.FreePort();
        var dataDir = Path.Combine(Path.GetTempPath(), "basalt-bench-" + Guid.NewGuid().ToString("N"));
        var config = new BasaltConfig
        {
            Server = new ServerConfig { Listen = $"127.0.0.1:{port}", DataDir = dataDir },
            Providers = new Dictionary<string, ProviderConfig> { ["upstream"] = new() { Type = "openai", BaseUrl = upstream.BaseAddress.ToString(), ApiKey = "bench" } },
            Models = [new ModelEntry { Id = "bench", Provider = "upstream", UpstreamName = "bench-upstream", InputPricePerMillion = 1m, OutputPricePerMillion = 2m }],
        };
        // The server keeps the logging `basalt serve` has (console provider and its filters): whether a logger is enabled
        // changes what ASP.NET Core does per request (activities, scopes), so clearing the providers would flatter the figures.
        await using var app = BasaltServer.Build(config);
        await app.StartAsync();
        var key = await app.Services.GetRequiredService<ApiKeys>().CreateAsync("bench", aws: false);

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 256, UseProxy = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var client = new HttpClient(handler);
        var load = new LoadGenerator(client);
        var basalt = new Uri($"http://127.0.0.1:{port}/");
        var openAiPayload = Encoding.UTF8.GetBytes(OpenAiBody);
        var conversePayload = Encoding.UTF8.GetBytes(ConverseBody);

        HttpRequestMessage Direct() => Post(new Uri(upstream.BaseAddress + "/chat/completions"), openAiPayload, null);
        HttpRequestMessage ViaOpenAi() => Post(new Uri(basalt, "v1/chat/completions"), openAiPayload, key.Secret);
        HttpRequestMessage ViaConverse() => Post(new Uri(basalt, "model/bench/converse"), conversePayload, key.Secret);

        Console.WriteLine($"gateway overhead: {Environment.ProcessorCount} cores, {seconds} s per point after 1 s warm-up, client/gateway/upstream in one process");
        Console.WriteLine($"{"path",-24} {"conc",4} {"req/s",9} {"p50 ms",8} {"p99 ms",8} {"added p50",10} {"added p99",10} {"errors",6}");
        var failed = false;
        foreach (var c in concurrencies)
        {
            var direct = await load.RunAsync(Direct, c, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(seconds));
            Print("direct upstream", direct, null);
            foreach (var (name, make) in new (string, Func<HttpRequestMessage>)[] { ("openai /v1/chat", ViaOpenAi), ("bedrock converse", ViaConverse) })
            {
                var r = await load.RunAsync(make, c, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(seconds));
                Print(name, r, direct);
                failed |= r.Errors > 0;
            }
        }
        await app.StopAsync();
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
        return failed ? 1 : 0;
    }

    private static HttpRequestMessage Post(Uri uri, byte[] payload, string? bearer)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(payload) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (bearer is not null)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    private static void Print(string name, LoadResult r, LoadResult? baseline)
    {
        var addedP50 = baseline is null ? "" : $"{r.P50Ms - baseline.P50Ms:F3}";
        var addedP99 = baseline is null ? "" : $"{r.P99Ms - baseline.P99Ms:F3}";
        Console.WriteLine($"{name,-24} {r.Concurrency,4} {r.RequestsPerSecond,9:F0} {r.P50Ms,8:F3} {r.P99Ms,8:F3} {addedP50,10} {addedP99,10} {r.Errors,6}");
    }
}

/// <summary>Command-line option parsing shared by the benchmark modes.</summary>
internal static class Options
{
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    public static int[] IntList(string[] args, string name, int[] fallback)
    {
        var i = Array.IndexOf(args, name);
        if (i < 0 || i + 1 >= args.Length)
            return fallback;
        return args[i + 1].Split(',').Select(int.Parse).ToArray();
    }
}
