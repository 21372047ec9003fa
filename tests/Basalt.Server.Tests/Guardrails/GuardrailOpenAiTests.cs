using System.Text;
using System.Text.Json;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Guardrails;

public sealed class GuardrailOpenAiTests
{
    private static async Task<(HttpResponseMessage Response, string Body)> ChatAsync(HttpClient client, string text, string? header, bool stream = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model = "scripted-model", stream, messages = new[] { new { role = "user", content = text } } }), Encoding.UTF8, "application/json"),
        };
        if (header is not null)
            request.Headers.Add("x-basalt-guardrail", header);
        var response = await client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ChatCompletions_GuardrailHeaderBlocksInput_ContentFilterFinishWithBlockedMessaging()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await GuardrailControlPlaneTests.CreateAsync(client, GuardrailRuntimeTests.ContentGuardrail);
        var (response, body) = await ChatAsync(client, GuardrailRuntimeTests.Attack, id + ":DRAFT");
        Assert.Equal(200, (int)response.StatusCode);
        using var doc = JsonDocument.Parse(body);
        var choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("content_filter", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("Sorry, I cannot take that.", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("GUARDRAIL_INTERVENED", response.Headers.GetValues("x-basalt-guardrail-action").Single());
        Assert.Empty(server.Provider.Requests);
    }

    [Fact]
    public async Task ChatCompletions_GuardrailHeaderStreaming_EndsWithContentFilter()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var id = await GuardrailControlPlaneTests.CreateAsync(client, GuardrailRuntimeTests.ContentGuardrail);
        var (response, body) = await ChatAsync(client, GuardrailRuntimeTests.Attack, id + ":DRAFT", stream: true);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Contains("Sorry, I cannot take that.", body);
        Assert.Contains("\"finish_reason\":\"content_filter\"", body);
    }

    [Fact]
    public async Task ChatCompletions_MalformedGuardrailHeader_400InOpenAiShape()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await ChatAsync(client, "hi", "no-version");
        Assert.Equal(400, (int)response.StatusCode);
        using var doc = JsonDocument.Parse(body);
        Assert.Equal("x-basalt-guardrail", doc.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task ChatCompletions_UnknownGuardrail_404InOpenAiShape()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await ChatAsync(client, "hi", "abcdef123456:DRAFT");
        Assert.Equal(404, (int)response.StatusCode);
        using var doc = JsonDocument.Parse(body);
        Assert.Contains("abcdef123456", doc.RootElement.GetProperty("error").GetProperty("message").GetString());
    }
}
