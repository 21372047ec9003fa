using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Server.Metering;
using Basalt.Server.Operations;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Operations;

public sealed class MetricsTests
{
    private static readonly Regex SampleLine = new(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*=""(\\.|[^""\\])*""(,[a-zA-Z_][a-zA-Z0-9_]*=""(\\.|[^""\\])*"")*\})? -?[0-9.eE+-]+$");

    private static async Task<RunningServer> StartAsync()
        => await RunningServer.StartAsync(configureApp: app => TestEndpoints.Map(app), configureServices: TestEndpoints.AddServices);

    private static double Sample(string text, string series)
    {
        foreach (var line in text.Split('\n'))
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
        throw new Xunit.Sdk.XunitException($"series {series} not found in:\n{text}");
    }

    [Fact]
    public async Task Metrics_AfterCalls_CountsRequestsTokensAndCostByModelAndKey()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        // The scripted provider counts words: "one two three" is 3 input tokens, "echo: one two three" 4 output tokens.
        await client.PostAsync("/test/converse", new StringContent("""{"model":"echo","text":"one two three"}""", Encoding.UTF8, "application/json"));
        await client.PostAsync("/test/converse", new StringContent("""{"model":"scripted-model","text":"one two three","stream":true}""", Encoding.UTF8, "application/json"));
        using var anonymous = server.CreateAnonymousClient();
        await anonymous.GetAsync("/v1/models");

        var text = await client.GetStringAsync("/metrics");

        Assert.Equal(6, Sample(text, "basalt_tokens_total{model=\"scripted-model\",key=\"test\",direction=\"input\"}"));
        Assert.Equal(8, Sample(text, "basalt_tokens_total{model=\"scripted-model\",key=\"test\",direction=\"output\"}"));
        Assert.Equal(2, Sample(text, "basalt_model_calls_total{model=\"scripted-model\",key=\"test\"}"));
        // Prices: $1 per million input tokens, $2 per million output tokens.
        Assert.Equal((6 * 1 + 8 * 2) / 1e6, Sample(text, "basalt_cost_usd_total{model=\"scripted-model\",key=\"test\"}"), 12);
        Assert.Equal(2, Sample(text, "basalt_requests_total{face=\"bedrock\",status=\"200\"}"));
        Assert.Equal(1, Sample(text, "basalt_requests_total{face=\"openai\",status=\"401\"}"));
        Assert.Equal(2, Sample(text, "basalt_request_duration_seconds_count{face=\"bedrock\"}"));
    }

    [Fact]
    public async Task Metrics_Text_FollowsThePrometheusExpositionFormat()
    {
        await using var server = await StartAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/test/converse", new StringContent("""{"model":"echo","text":"a b"}""", Encoding.UTF8, "application/json"));
        await client.GetAsync("/healthz");

        using var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.EndsWith("\n", text);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal))
                continue;
            Assert.Matches(SampleLine, line);
        }
        foreach (var name in new[] { "basalt_requests_total counter", "basalt_request_duration_seconds histogram", "basalt_tokens_total counter", "basalt_cost_usd_total counter" })
            Assert.Contains("# TYPE " + name + "\n", text);
        // Buckets are cumulative and +Inf equals the count.
        var buckets = text.Split('\n').Where(l => l.StartsWith("basalt_request_duration_seconds_bucket{face=\"bedrock\"", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(ServerMetrics.DurationBuckets.Length + 1, buckets.Count);
        Assert.Equal(buckets.Order(), buckets);
        Assert.Equal(buckets[^1], Sample(text, "basalt_request_duration_seconds_count{face=\"bedrock\"}"));
    }

    [Fact]
    public async Task Metrics_NoKey_IsRefused()
    {
        await using var server = await StartAsync();
        using var client = server.CreateAnonymousClient();

        using var response = await client.GetAsync("/metrics");

        Assert.Equal(System.Net.HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public void RecordUsage_ManyThreadsAtOnce_LosesNoCount()
    {
        var metrics = new ServerMetrics();
        const int threads = 8, perThread = 20_000;

        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (var i = 0; i < perThread; i++)
            {
                metrics.RecordUsage("m", i % 2 == 0 ? "a" : "b", 3, 1, 0, 0, 0.000001m);
                metrics.RecordRequest("bedrock", 200, TimeSpan.FromMilliseconds(2));
            }
        });

        var total = metrics.Tokens("m", "a", "input") + metrics.Tokens("m", "b", "input");
        Assert.Equal(3L * threads * perThread, total);
        var text = metrics.ToPrometheusText();
        Assert.Equal(threads * perThread, Sample(text, "basalt_requests_total{face=\"bedrock\",status=\"200\"}"));
        Assert.Equal(threads * perThread * 0.000001, Sample(text, "basalt_cost_usd_total{model=\"m\",key=\"a\"}") + Sample(text, "basalt_cost_usd_total{model=\"m\",key=\"b\"}"), 9);
    }

    [Fact]
    public void ToPrometheusText_LabelWithQuoteAndNewline_IsEscaped()
    {
        var metrics = new ServerMetrics();
        metrics.RecordUsage("m\"x", "line\nbreak\\", 1, 1, 0, 0, 0m);

        Assert.Contains("basalt_tokens_total{model=\"m\\\"x\",key=\"line\\nbreak\\\\\",direction=\"input\"} 1\n", metrics.ToPrometheusText());
    }

    [Fact]
    public void Cost_CatalogPrices_PerMillionTokens()
    {
        var model = new ModelEntry { Id = "m", Provider = "p", InputPricePerMillion = 3m, OutputPricePerMillion = 15m };

        Assert.Equal(0.0105m, MeteringClient.Cost(model, new TokenUsage(1000, 500)));
        Assert.Equal(0m, MeteringClient.Cost(null, new TokenUsage(1000, 500)));
    }
}
