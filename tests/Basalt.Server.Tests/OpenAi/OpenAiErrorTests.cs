using System.Net;
using System.Text;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>Every way a request can fail, seen on the wire: OpenAI's status, error.type, error.param and error.code.</summary>
public sealed class OpenAiErrorTests
{
    private const string User = """[{"role":"user","content":"x"}]""";

    [Theory]
    [InlineData("""{"model":"scripted-model","messages":[""", null)]
    [InlineData("", null)]
    [InlineData("""[{"model":"scripted-model"}]""", null)]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":"x"}]} {}""", null)]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", "model")]
    [InlineData("""{"model":42,"messages":[{"role":"user","content":"x"}]}""", "model")]
    [InlineData("""{"model":"scripted-model"}""", "messages")]
    [InlineData("""{"model":"scripted-model","messages":"hello"}""", "messages")]
    [InlineData("""{"model":"scripted-model","messages":[]}""", "messages")]
    [InlineData("""{"model":"scripted-model","messages":[{"content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"wizard","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":42}]}""", "messages[0].content")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":[{"type":"video","video":{}}]}]}""", "messages[0].content[0]")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}""", "messages[0].content[0]")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}""", "messages[0].content[0].image_url.url")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}]}]}""", "messages[0].content[0].image_url.url")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AAAA"}}]}]}""", "messages[0].content[0].image_url.url")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{not json"}}]}]}""", "messages[1].tool_calls[0].function.arguments")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}""", "messages[1].tool_calls[0]")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"user","content":"x"},{"role":"tool","tool_call_id":"nope","content":"r"}]}""", "messages[1].tool_call_id")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"tool","content":"r"}]}""", "messages[0].tool_call_id")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"assistant"}]}""", "messages[0].content")]
    [InlineData("""{"model":"scripted-model","messages":[{"role":"function","name":"f","content":"r"}]}""", "messages[0].role")]
    [InlineData("""{"model":"scripted-model","n":2,"messages":[{"role":"user","content":"x"}]}""", "n")]
    [InlineData("""{"model":"scripted-model","temperature":2.5,"messages":[{"role":"user","content":"x"}]}""", "temperature")]
    [InlineData("""{"model":"scripted-model","temperature":"hot","messages":[{"role":"user","content":"x"}]}""", "temperature")]
    [InlineData("""{"model":"scripted-model","top_p":1.5,"messages":[{"role":"user","content":"x"}]}""", "top_p")]
    [InlineData("""{"model":"scripted-model","max_tokens":0,"messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"model":"scripted-model","max_completion_tokens":1.5,"messages":[{"role":"user","content":"x"}]}""", "max_completion_tokens")]
    [InlineData("""{"model":"scripted-model","stream":"yes","messages":[{"role":"user","content":"x"}]}""", "stream")]
    [InlineData("""{"model":"scripted-model","stop":["a","b","c","d","e"],"messages":[{"role":"user","content":"x"}]}""", "stop")]
    [InlineData("""{"model":"scripted-model","stop":[1],"messages":[{"role":"user","content":"x"}]}""", "stop[0]")]
    [InlineData("""{"model":"scripted-model","tools":[{"type":"function","function":{"name":"bad name!"}}],"messages":[{"role":"user","content":"x"}]}""", "tools[0].function.name")]
    [InlineData("""{"model":"scripted-model","tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}],"messages":[{"role":"user","content":"x"}]}""", "tools[0].function.parameters")]
    [InlineData("""{"model":"scripted-model","tools":[{"type":"web_search"}],"messages":[{"role":"user","content":"x"}]}""", "tools[0]")]
    [InlineData("""{"model":"scripted-model","tool_choice":"required","messages":[{"role":"user","content":"x"}]}""", "tool_choice")]
    [InlineData("""{"model":"scripted-model","tool_choice":"sometimes","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"x"}]}""", "tool_choice")]
    [InlineData("""{"model":"scripted-model","tool_choice":{"type":"function","function":{"name":"g"}},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"x"}]}""", "tool_choice.function.name")]
    [InlineData("""{"model":"scripted-model","response_format":{"type":"xml"},"messages":[{"role":"user","content":"x"}]}""", "response_format.type")]
    [InlineData("""{"model":"scripted-model","response_format":{"type":"json_schema","json_schema":{"schema":{}}},"messages":[{"role":"user","content":"x"}]}""", "response_format.json_schema.name")]
    [InlineData("""{"model":"scripted-model","metadata":{"k":1},"messages":[{"role":"user","content":"x"}]}""", "metadata.k")]
    public async Task ChatCompletions_BadRequest_Is400NamingTheField(string json, string? param)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.PostChatAsync(client, json);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = OpenAiHttp.Error(body, "invalid_request_error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        if (param is not null)
            Assert.StartsWith(param + ": ", error.GetProperty("message").GetString());
        Assert.Empty(server.Provider.Requests);
    }

    [Fact]
    public async Task ChatCompletions_InvalidUtf8InAString_Is400AndServerKeepsServing()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var body = Encoding.UTF8.GetBytes("""{"model":"scripted-model","messages":[{"role":"user","content":"abc#"}]}""");
        body[Array.IndexOf(body, (byte)'#')] = 0xFF;

        var (status, error) = await OpenAiHttp.PostChatAsync(client, body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("UTF-8", OpenAiHttp.Error(error, "invalid_request_error").GetProperty("message").GetString());
        var (after, _) = await OpenAiHttp.PostChatAsync(client, """{"model":"scripted-model","messages":[{"role":"user","content":"ok"}]}""");
        Assert.Equal(HttpStatusCode.OK, after);
    }

    [Fact]
    public async Task ChatCompletions_MalformedJson_MessageSaysTheBodyIsNotJson()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        var (_, body) = await OpenAiHttp.PostChatAsync(client, "{model: scripted-model}");

        Assert.Contains("could not parse the JSON body", OpenAiHttp.Error(body, "invalid_request_error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task ChatCompletions_BodyOverTheServerLimit_Is400()
    {
        await using var server = await RunningServer.StartAsync(c => c with { Server = c.Server with { MaxRequestBodyBytes = 1024 } });
        using var client = server.CreateClient();
        var big = new string('a', 4096);

        var (status, body) = await OpenAiHttp.PostChatAsync(client, $$"""{"model":"scripted-model","messages":[{"role":"user","content":"{{big}}"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("maxRequestBodyBytes", OpenAiHttp.Error(body, "invalid_request_error").GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ChatCompletions_UnknownModel_Is404ModelNotFound(bool stream)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.PostChatAsync(client, $$"""{"model":"no-such-model","stream":{{(stream ? "true" : "false")}},"messages":{{User}}}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        var error = OpenAiHttp.Error(body, "invalid_request_error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains("no-such-model", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(ErrorKind.Validation, 400, "invalid_request_error", null)]
    [InlineData(ErrorKind.AccessDenied, 403, "permission_error", "permission_denied")] // the fixture's key authenticated, so a refusal is a permission error
    [InlineData(ErrorKind.ResourceNotFound, 404, "invalid_request_error", "model_not_found")]
    [InlineData(ErrorKind.Throttling, 429, "rate_limit_error", "rate_limit_exceeded")]
    [InlineData(ErrorKind.ModelNotReady, 429, "rate_limit_error", "rate_limit_exceeded")]
    [InlineData(ErrorKind.ServiceQuotaExceeded, 429, "insufficient_quota", "insufficient_quota")]
    [InlineData(ErrorKind.ModelError, 502, "server_error", "upstream_error")]
    [InlineData(ErrorKind.ServiceUnavailable, 503, "server_error", "service_unavailable")]
    [InlineData(ErrorKind.ModelTimeout, 504, "server_error", "timeout")]
    [InlineData(ErrorKind.InternalServer, 500, "server_error", null)]
    public async Task ChatCompletions_ProviderFails_ErrorKindMapsToOpenAiStatus(ErrorKind kind, int status, string type, string? code)
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => throw new BasaltException(kind, "upstream said no");
        using var client = server.CreateClient();

        var (actual, body) = await OpenAiHttp.PostChatAsync(client, $$"""{"model":"scripted-model","messages":{{User}}}""");

        Assert.Equal(status, (int)actual);
        var error = OpenAiHttp.Error(body, type);
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("upstream said no", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task ChatCompletions_ProviderCrashes_Is500ServerErrorAndServerKeepsServing()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => throw new InvalidOperationException("bug in a provider");
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.PostChatAsync(client, $$"""{"model":"scripted-model","messages":{{User}}}""");

        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.DoesNotContain("bug in a provider", OpenAiHttp.Error(body, "server_error").GetProperty("message").GetString());
        server.Provider.Reply = ScriptedProvider.Echo;
        var (after, _) = await OpenAiHttp.PostChatAsync(client, $$"""{"model":"scripted-model","messages":{{User}}}""");
        Assert.Equal(HttpStatusCode.OK, after);
    }

    [Theory]
    [InlineData("GET", "v1/chat/completions")]
    [InlineData("POST", "v1/embeddingz")]
    [InlineData("GET", "v1")]
    public async Task UnknownRoute_UnderV1_Is404InOpenAiFormat(string method, string path)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains("Invalid URL", OpenAiHttp.Error(body, "invalid_request_error").GetProperty("message").GetString());
    }
}
