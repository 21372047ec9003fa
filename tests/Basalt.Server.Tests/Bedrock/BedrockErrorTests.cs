using System.Text;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Bedrock;

public sealed class BedrockErrorTests
{
    private const string Ok = """{"messages":[{"role":"user","content":[{"text":"fine"}]}]}""";

    [Theory]
    [InlineData(ErrorKind.Validation, 400, "ValidationException")]
    [InlineData(ErrorKind.AccessDenied, 403, "AccessDeniedException")]
    [InlineData(ErrorKind.ResourceNotFound, 404, "ResourceNotFoundException")]
    [InlineData(ErrorKind.ModelTimeout, 408, "ModelTimeoutException")]
    [InlineData(ErrorKind.ModelError, 424, "ModelErrorException")]
    [InlineData(ErrorKind.Throttling, 429, "ThrottlingException")]
    [InlineData(ErrorKind.ModelNotReady, 429, "ModelNotReadyException")]
    [InlineData(ErrorKind.InternalServer, 500, "InternalServerException")]
    [InlineData(ErrorKind.ServiceUnavailable, 503, "ServiceUnavailableException")]
    [InlineData(ErrorKind.ServiceQuotaExceeded, 400, "ServiceQuotaExceededException")]
    [InlineData(ErrorKind.Conflict, 409, "ConflictException")]
    public async Task Converse_ProviderError_UsesBedrockStatusHeaderAndBody(ErrorKind kind, int status, string type)
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => throw new BasaltException(kind, "provider says no");
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/converse", Ok);
        Assert.Equal("provider says no", AssertError(response, body, status, type));
        Assert.Equal(type + ":http://internal.amazon.com/coral/com.amazon.bedrock/", response.Headers.GetValues("x-amzn-ErrorType").Single());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.Contains("x-amzn-RequestId"));
    }

    [Fact]
    public async Task Converse_UnexpectedProviderException_Is500WithoutInternals()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => throw new InvalidOperationException("secret stack detail");
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/converse", Ok);
        Assert.DoesNotContain("secret", AssertError(response, body, 500, "InternalServerException"));
    }

    [Fact]
    public async Task Converse_UnknownModel_IsResourceNotFoundNamingTheModel()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/no-such-model/converse", Ok);
        Assert.Contains("no-such-model", AssertError(response, body, 404, "ResourceNotFoundException"));
    }

    [Theory]
    [InlineData("""{"messages":[""", "not valid JSON")]
    [InlineData("""not json at all""", "not valid JSON")]
    [InlineData("", "empty")]
    [InlineData("""[1,2]""", "body")]
    [InlineData("""{"messages":{}}""", "messages: expected an array")]
    [InlineData("""{"messages":[{"role":"user"}]}""", "messages[0].content: is required")]
    [InlineData("""{"messages":[{"role":"system","content":[]}]}""", "messages[0].role")]
    [InlineData("""{"messages":[{"role":"user","content":[{"text":"a"},{"text":5}]}]}""", "messages[0].content[1].text: expected a string")]
    [InlineData("""{"messages":[{"role":"user","content":[{}]}]}""", "messages[0].content[0]")]
    [InlineData("""{"messages":[{"role":"user","content":[{"text":"a","image":{}}]}]}""", "messages[0].content[0]")]
    [InlineData("""{"messages":[{"role":"user","content":[{"video":{}}]}]}""", "messages[0].content[0].video")]
    [InlineData("""{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AA=="}}}]}]}""", "messages[0].content[0].image.format")]
    [InlineData("""{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"@@@"}}}]}]}""", "messages[0].content[0].image.source.bytes")]
    [InlineData("""{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"s3Location":{"uri":"s3://b/k"}}}}]}]}""", "messages[0].content[0].image.source.s3Location")]
    [InlineData("""{"messages":[{"role":"user","content":[{"toolUse":{"toolUseId":"t","name":"bad name!","input":{}}}]}]}""", "messages[0].content[0].toolUse.name")]
    [InlineData("""{"messages":[{"role":"user","content":[{"cachePoint":{"type":"forever"}}]}]}""", "messages[0].content[0].cachePoint.type")]
    [InlineData("""{"messages":[],"inferenceConfig":{"maxTokens":0}}""", "inferenceConfig.maxTokens")]
    [InlineData("""{"messages":[],"inferenceConfig":{"maxTokens":"ten"}}""", "inferenceConfig.maxTokens: expected an integer")]
    [InlineData("""{"messages":[],"inferenceConfig":{"maxTokens":1.5}}""", "inferenceConfig.maxTokens")]
    [InlineData("""{"messages":[],"inferenceConfig":{"temperature":1.5}}""", "inferenceConfig.temperature")]
    [InlineData("""{"messages":[],"inferenceConfig":{"topP":-0.1}}""", "inferenceConfig.topP")]
    [InlineData("""{"messages":[],"inferenceConfig":{"stopSequences":[""]}}""", "inferenceConfig.stopSequences[0]")]
    [InlineData("""{"messages":[],"toolConfig":{"tools":[]}}""", "toolConfig.tools")]
    [InlineData("""{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"auto":{},"any":{}}}}""", "toolConfig.toolChoice")]
    [InlineData("""{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"g"}}}}""", "toolConfig.toolChoice.tool.name")]
    [InlineData("""{"messages":[],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"none":{}}}}""", "toolConfig.toolChoice")]
    [InlineData("""{"messages":[],"additionalModelRequestFields":[1]}""", "additionalModelRequestFields")]
    [InlineData("""{"messages":[],"additionalModelResponseFieldPaths":["stop"]}""", "additionalModelResponseFieldPaths[0]")]
    [InlineData("""{"messages":[],"performanceConfig":{"latency":"ludicrous"}}""", "performanceConfig.latency")]
    [InlineData("""{"messages":[],"requestMetadata":{}}""", "requestMetadata")]
    [InlineData("""{"messages":[],"guardrailConfig":{"guardrailIdentifier":"g","guardrailVersion":"v1"}}""", "guardrailConfig.guardrailVersion")]
    public async Task Converse_InvalidRequest_IsValidationNamingTheField(string json, string expected)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/converse", json);
        Assert.Contains(expected, AssertError(response, body, 400, "ValidationException"));
        Assert.Empty(server.Provider.Requests);

        var (ok, _) = await PostAsync(client, "/model/scripted-model/converse", Ok);
        Assert.Equal(200, (int)ok.StatusCode);
    }

    [Fact]
    public async Task Converse_InvalidUtf8_IsValidation()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var bytes = Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":[{"text":"AB"}]}]}""");
        var at = Array.IndexOf(bytes, (byte)'A');
        bytes[at] = 0xC3;
        bytes[at + 1] = 0x28; // not a continuation byte
        var (response, body) = await PostBytesAsync(client, "/model/scripted-model/converse", bytes);
        Assert.Contains("UTF-8", AssertError(response, body, 400, "ValidationException"));
        var (ok, _) = await PostAsync(client, "/model/scripted-model/converse", Ok);
        Assert.Equal(200, (int)ok.StatusCode);
    }

    [Fact]
    public async Task Converse_BodyOverServerLimit_IsCleanErrorAndServerKeepsServing()
    {
        await using var server = await RunningServer.StartAsync(c => c with { Server = c.Server with { MaxRequestBodyBytes = 4096 } });
        using (var client = server.CreateClient())
        {
            var big = """{"messages":[{"role":"user","content":[{"text":"@"}]}]}""".Replace("@", new string('a', 20_000));
            var (response, body) = await PostAsync(client, "/model/scripted-model/converse", big);
            Assert.Contains("maxRequestBodyBytes", AssertError(response, body, 400, "ValidationException"));
        }
        using var again = server.CreateClient();
        var (ok, _) = await PostAsync(again, "/model/scripted-model/converse", Ok);
        Assert.Equal(200, (int)ok.StatusCode);
    }

    [Fact]
    public async Task Post_UnknownOperation_IsBedrockNotFound()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/summon", Ok);
        Assert.Contains("summon", AssertError(response, body, 404, "ResourceNotFoundException"));
    }

    [Fact]
    public async Task Converse_ManyBadRequestsInARow_ServerKeepsServing()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        string[] bad = ["{", "null", "\"x\"", """{"messages":5}""", """{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"video":{}}]}}]}]}"""];
        foreach (var b in bad)
        {
            var (response, _) = await PostAsync(client, "/model/scripted-model/converse", b);
            Assert.Equal(400, (int)response.StatusCode);
        }
        var (ok, json) = await PostAsync(client, "/model/scripted-model/converse", Ok);
        Assert.Equal(200, (int)ok.StatusCode);
        Assert.Equal("echo: fine", json.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
    }
}
