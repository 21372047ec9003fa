using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.Auth;

/// <summary>Authentication and the model allow-list through the real Bedrock and OpenAI endpoints.</summary>
public sealed class FaceAuthTests
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private const string BedrockBody = """{"messages":[{"role":"user","content":[{"text":"hello there"}]}]}""";

    private static string OpenAiBody(string model) => $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hello there"}]}""";

    [Fact]
    public async Task BedrockConverse_SignedWithSigV4_Answers()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateSigV4Client();

        using var response = await client.PostAsync("/model/echo/converse", Json(BedrockBody));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("echo: hello there", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BedrockConverse_ModelOutsideKeysList_Returns403AccessDenied()
    {
        await using var server = await RunningServer.StartAsync();
        var issued = await server.CreateKeyAsync("limited", aws: true, models: ["echo"]);
        using var client = server.CreateSigV4Client(issued.Record.AccessKeyId, issued.Secret);

        using var allowed = await client.PostAsync("/model/scripted-model/converse", Json(BedrockBody));
        using var denied = await client.PostAsync("/model/scripted-tools/converse", Json(BedrockBody));

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.Equal("AccessDeniedException", denied.Headers.GetValues("x-amzn-ErrorType").Single().Split(':')[0]);
        var message = JsonDocument.Parse(await denied.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString();
        Assert.Contains("not allowed to call the model 'scripted-tools'", message);
        Assert.Single(server.Provider.Requests);
    }

    [Fact]
    public async Task ChatCompletions_ModelOutsideKeysList_Returns403PermissionError()
    {
        await using var server = await RunningServer.StartAsync();
        var issued = await server.CreateKeyAsync("limited", models: ["scripted-model"]);
        using var client = server.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", issued.Secret);

        using var allowed = await client.PostAsync("/v1/chat/completions", Json(OpenAiBody("echo")));
        using var denied = await client.PostAsync("/v1/chat/completions", Json(OpenAiBody("scripted-tools")));

        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        var error = JsonDocument.Parse(await denied.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("permission_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ChatCompletionsStream_Metered_FromTheMetadataEvent()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var body = """{"model":"echo","stream":true,"messages":[{"role":"user","content":"one two three four"}]}""";

        using var response = await client.PostAsync("/v1/chat/completions", Json(body));
        await response.Content.ReadAsStringAsync();
        var metrics = await client.GetStringAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("basalt_tokens_total{model=\"scripted-model\",key=\"test\",direction=\"input\"} 4\n", metrics);
        Assert.Contains("basalt_tokens_total{model=\"scripted-model\",key=\"test\",direction=\"output\"} 5\n", metrics);
        Assert.Contains("basalt_requests_total{face=\"openai\",status=\"200\"} 1\n", metrics);
    }

    [Fact]
    public async Task BedrockConverse_BodyOverTheLimit_GetsValidationException()
    {
        await using var server = await RunningServer.StartAsync(c => c with { Server = c.Server with { MaxRequestBodyBytes = 2048 } });
        using var client = server.CreateSigV4Client();
        var big = """{"messages":[{"role":"user","content":[{"text":" """ + new string('x', 8192) + "\"}]}]}";

        using var response = await client.PostAsync("/model/echo/converse", Json(big));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("ValidationException", response.Headers.GetValues("x-amzn-ErrorType").Single().Split(':')[0]);
        Assert.Contains("maxRequestBodyBytes", await response.Content.ReadAsStringAsync());
    }
}
