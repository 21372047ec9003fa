using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Server.Tests.Fakes;
using Basalt.Tests.Common;

namespace Basalt.Server.Tests.Local;

/// <summary>The real local engine behind both HTTP faces: stories260K served as "stories" through the "local" provider type.</summary>
public sealed class LocalModelServingTests
{
    private static Task<RunningServer>? Start(int contextWindow = 128)
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return null;
        return RunningServer.StartAsync(cfg => cfg with
        {
            Providers = new Dictionary<string, ProviderConfig>(cfg.Providers) { ["engine"] = new() { Type = "local" } },
            Models = [.. cfg.Models, new ModelEntry { Id = "stories", Provider = "engine", Path = path, ContextWindow = contextWindow }],
        });
    }

    [Fact]
    public async Task BedrockConverseAndOpenAiChat_GreedyOnLocalModel_ReturnTheSameText()
    {
        if (Start() is not { } starting) return;
        await using var server = await starting;
        using var http = server.CreateClient();

        var bedrock = await http.PostAsJsonAsync("model/stories/converse", new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = "Once upon a time" } } } },
            inferenceConfig = new { maxTokens = 10, temperature = 0 },
        });
        Assert.Equal(HttpStatusCode.OK, bedrock.StatusCode);
        using var b = JsonDocument.Parse(await bedrock.Content.ReadAsStringAsync());
        var bedrockText = b.RootElement.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString();
        Assert.False(string.IsNullOrWhiteSpace(bedrockText));
        Assert.Equal("max_tokens", b.RootElement.GetProperty("stopReason").GetString());
        Assert.Equal(10, b.RootElement.GetProperty("usage").GetProperty("outputTokens").GetInt32());

        var openai = await http.PostAsJsonAsync("v1/chat/completions", new
        {
            model = "stories",
            messages = new[] { new { role = "user", content = "Once upon a time" } },
            max_tokens = 10,
            temperature = 0,
        });
        Assert.Equal(HttpStatusCode.OK, openai.StatusCode);
        using var o = JsonDocument.Parse(await openai.Content.ReadAsStringAsync());
        var choice = o.RootElement.GetProperty("choices")[0];
        Assert.Equal(bedrockText, choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task BedrockConverse_PromptLongerThanContext_Returns400ValidationException()
    {
        if (Start() is not { } starting) return;
        await using var server = await starting;
        using var http = server.CreateClient();
        var response = await http.PostAsJsonAsync("model/stories/converse", new
        {
            messages = new[] { new { role = "user", content = new[] { new { text = string.Concat(Enumerable.Repeat("the dog ran and ran. ", 60)) } } } },
        });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ValidationException", response.Headers.GetValues("x-amzn-ErrorType").Single().Split(':')[0]);
        Assert.Contains("context window of 128 tokens", await response.Content.ReadAsStringAsync());
    }

    private static readonly string LongSystem = string.Concat(Enumerable.Repeat("Once upon a time, there was a little girl named Lily. ", 8));

    [Fact]
    public async Task BedrockConverse_CachePointAndOptimizedLatency_ReportsCacheUsageAndTheTierOnTheWire()
    {
        if (Start(contextWindow: 256) is not { } starting) return;
        await using var server = await starting;
        using var http = server.CreateClient();
        async Task<JsonDocument> Converse() => JsonDocument.Parse(await (await http.PostAsJsonAsync("model/stories/converse", new
        {
            system = new object[] { new { text = LongSystem }, new { cachePoint = new { type = "default" } } },
            messages = new[] { new { role = "user", content = new[] { new { text = "One day" } } } },
            inferenceConfig = new { maxTokens = 8, temperature = 0 },
            performanceConfig = new { latency = "optimized" },
        })).Content.ReadAsStringAsync());

        using var first = await Converse();
        using var second = await Converse();
        var u1 = first.RootElement.GetProperty("usage");
        var u2 = second.RootElement.GetProperty("usage");
        Assert.True(u1.GetProperty("cacheWriteInputTokens").GetInt32() >= 64, u1.ToString());
        Assert.True(u2.GetProperty("cacheReadInputTokens").GetInt32() >= u1.GetProperty("cacheWriteInputTokens").GetInt32(), u2.ToString());
        Assert.Equal(0, u2.GetProperty("cacheWriteInputTokens").GetInt32());
        // The same prompt both times: only how it splits between input, cache write and cache read changes.
        Assert.Equal(u1.GetProperty("inputTokens").GetInt32() + u1.GetProperty("cacheWriteInputTokens").GetInt32(),
            u2.GetProperty("inputTokens").GetInt32() + u2.GetProperty("cacheReadInputTokens").GetInt32());
        Assert.Equal("optimized", second.RootElement.GetProperty("performanceConfig").GetProperty("latency").GetString());
        Assert.Equal(
            first.RootElement.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString(),
            second.RootElement.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task OpenAiChat_SharedSystemPrompt_ReportsCachedTokensOnTheSecondCall()
    {
        if (Start(contextWindow: 256) is not { } starting) return;
        await using var server = await starting;
        using var http = server.CreateClient();
        async Task<JsonElement> Usage()
        {
            using var doc = JsonDocument.Parse(await (await http.PostAsJsonAsync("v1/chat/completions", new
            {
                model = "stories",
                messages = new[] { new { role = "system", content = LongSystem }, new { role = "user", content = "One day" } },
                max_tokens = 8,
                temperature = 0,
            })).Content.ReadAsStringAsync());
            return doc.RootElement.GetProperty("usage").Clone();
        }
        var first = await Usage();
        var second = await Usage();
        Assert.Equal(first.GetProperty("prompt_tokens").GetInt32(), second.GetProperty("prompt_tokens").GetInt32());
        Assert.True(second.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32() >= 64, second.ToString());
    }
}
