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
    private static Task<RunningServer>? Start()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return null;
        return RunningServer.StartAsync(cfg => cfg with
        {
            Providers = new Dictionary<string, ProviderConfig>(cfg.Providers) { ["engine"] = new() { Type = "local" } },
            Models = [.. cfg.Models, new ModelEntry { Id = "stories", Provider = "engine", Path = path, ContextWindow = 128 }],
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
}
