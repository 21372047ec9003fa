using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Bedrock;

public sealed class ConverseStreamTests
{
    private const string Hello = """{"messages":[{"role":"user","content":[{"text":"stream this please"}]}]}""";

    [Fact]
    public async Task ConverseStream_Text_SendsEventFramesInBedrockOrder()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var frames = await StreamAsync(client, "/model/scripted-model/converse-stream", Hello);
        Assert.All(frames, f =>
        {
            Assert.Equal("event", f.StringHeader(":message-type"));
            Assert.Equal("application/json", f.StringHeader(":content-type"));
        });
        var types = frames.Select(f => f.StringHeader(":event-type")).ToList();
        Assert.Equal("messageStart", types[0]);
        Assert.Equal("contentBlockStop", types[^3]);
        Assert.Equal("messageStop", types[^2]);
        Assert.Equal("metadata", types[^1]);
        Assert.Equal("assistant", Payload(frames[0]).GetProperty("role").GetString());
        var text = string.Concat(frames.Where(f => f.StringHeader(":event-type") == "contentBlockDelta")
            .Select(f => Payload(f).GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal("echo: stream this please", text);
        Assert.Equal("end_turn", Payload(frames[^2]).GetProperty("stopReason").GetString());
        var metadata = Payload(frames[^1]);
        Assert.Equal(3, metadata.GetProperty("usage").GetProperty("inputTokens").GetInt32());
        Assert.Equal(4, metadata.GetProperty("usage").GetProperty("outputTokens").GetInt32());
        Assert.Equal(7, metadata.GetProperty("usage").GetProperty("totalTokens").GetInt32());
        Assert.Equal(1, metadata.GetProperty("metrics").GetProperty("latencyMs").GetInt64());
    }

    [Fact]
    public async Task ConverseStream_ToolUse_StreamsStartAndInputDeltas()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ =>
        {
            using var input = JsonDocument.Parse("""{"city":"Paris"}""");
            return new ConverseResponse
            {
                Output = new Message(ConversationRole.Assistant, [new ToolUseBlock("tu-9", "get_weather", input.RootElement.Clone())]),
                StopReason = StopReason.ToolUse,
                Usage = new TokenUsage(4, 6),
            };
        };
        using var client = server.CreateClient();
        var frames = await StreamAsync(client, "/model/scripted-tools/converse-stream", Hello);
        var start = Payload(frames.Single(f => f.StringHeader(":event-type") == "contentBlockStart"));
        Assert.Equal(0, start.GetProperty("contentBlockIndex").GetInt32());
        Assert.Equal("tu-9", start.GetProperty("start").GetProperty("toolUse").GetProperty("toolUseId").GetString());
        Assert.Equal("get_weather", start.GetProperty("start").GetProperty("toolUse").GetProperty("name").GetString());
        var input = string.Concat(frames.Where(f => f.StringHeader(":event-type") == "contentBlockDelta")
            .Select(f => Payload(f).GetProperty("delta").GetProperty("toolUse").GetProperty("input").GetString()));
        Assert.Equal("Paris", JsonDocument.Parse(input).RootElement.GetProperty("city").GetString());
        Assert.Equal("tool_use", Payload(frames.Single(f => f.StringHeader(":event-type") == "messageStop")).GetProperty("stopReason").GetString());
    }

    [Theory]
    [InlineData(ErrorKind.ModelError, "modelStreamErrorException")]
    [InlineData(ErrorKind.Throttling, "throttlingException")]
    [InlineData(ErrorKind.Validation, "validationException")]
    [InlineData(ErrorKind.InternalServer, "internalServerException")]
    [InlineData(ErrorKind.ServiceUnavailable, "serviceUnavailableException")]
    public async Task ConverseStream_ErrorAfterStart_EndsWithExceptionFrame(ErrorKind kind, string exceptionType)
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, new FaultingContent(new TextBlock("partial answer"), new BasaltException(kind, "upstream broke mid-stream"))),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(1, 1),
        };
        using var client = server.CreateClient();
        var frames = await StreamAsync(client, "/model/scripted-model/converse-stream", Hello);
        Assert.Equal("messageStart", frames[0].StringHeader(":event-type"));
        Assert.Contains(frames, f => f.StringHeader(":event-type") == "contentBlockDelta");
        var last = frames[^1];
        Assert.Equal("exception", last.StringHeader(":message-type"));
        Assert.Equal(exceptionType, last.StringHeader(":exception-type"));
        Assert.Equal("upstream broke mid-stream", Payload(last).GetProperty("message").GetString());

        // The server keeps serving.
        server.Provider.Reply = ScriptedProvider.Echo;
        var (ok, _) = await PostAsync(client, "/model/scripted-model/converse", Hello.Replace("stream this please", "again"));
        Assert.Equal(200, (int)ok.StatusCode);
    }

    [Fact]
    public async Task ConverseStream_UnexpectedErrorAfterStart_SendsInternalServerExceptionFrame()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, new ThrowingList()),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(1, 1),
        };
        using var client = server.CreateClient();
        var frames = await StreamAsync(client, "/model/scripted-model/converse-stream", Hello);
        Assert.Equal("internalServerException", frames[^1].StringHeader(":exception-type"));
    }

    [Fact]
    public async Task ConverseStream_ErrorBeforeFirstEvent_IsAnOrdinaryHttpError()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => throw new BasaltException(ErrorKind.Throttling, "slow down");
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/converse-stream", Hello);
        Assert.Equal("slow down", AssertError(response, body, 429, "ThrottlingException"));
    }

    [Fact]
    public async Task ConverseStream_UnknownModel_Is404()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/nope/converse-stream", Hello);
        Assert.Contains("nope", AssertError(response, body, 404, "ResourceNotFoundException"));
    }

    [Fact]
    public async Task ConverseStream_ClientDisconnects_ServerKeepsServing()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = r => ScriptedProvider.Echo(r) with
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock(string.Join(' ', Enumerable.Repeat("word", 20000)))]),
        };
        using (var client = server.CreateClient())
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/model/scripted-model/converse-stream") { Content = Json(Hello) };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            await body.ReadExactlyAsync(buffer);
        }
        server.Provider.Reply = ScriptedProvider.Echo;
        using var again = server.CreateClient();
        var (ok, json) = await PostAsync(again, "/model/scripted-model/converse", """{"messages":[{"role":"user","content":[{"text":"alive"}]}]}""");
        Assert.Equal(200, (int)ok.StatusCode);
        Assert.Equal("echo: alive", json.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
    }

    private sealed class ThrowingList : IReadOnlyList<ContentBlock>
    {
        public ContentBlock this[int index] => index == 0 ? new TextBlock("x") : throw new InvalidOperationException("bug");
        public int Count => 2;
        public IEnumerator<ContentBlock> GetEnumerator() => throw new InvalidOperationException("bug");
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
