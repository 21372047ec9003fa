using System.Text;
using System.Text.Json;
using Basalt.Core.Aws;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;
using Basalt.Providers.Bedrock;
using Basalt.Providers.Http;
using Basalt.Providers.Tests.Fakes;
using Basalt.Providers.Tests.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Basalt.Providers.Tests.Bedrock;

public sealed class BedrockClientTests
{
    private const string AccessKey = "AKIDEXAMPLE";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    private const string ModelId = "us.anthropic.claude-3-5-haiku-20241022-v1:0";

    // Shaped like the Converse response example in the Bedrock API reference.
    private const string ConverseAnswer = """
        {"output":{"message":{"role":"assistant","content":[{"text":"Here is a list of 3 pop songs by artists from the United Kingdom."}]}},
         "stopReason":"end_turn",
         "usage":{"inputTokens":125,"outputTokens":60,"totalTokens":200,"cacheReadInputTokens":10,"cacheWriteInputTokens":5},
         "metrics":{"latencyMs":1175}}
        """;

    private static BedrockClient Client(FakeUpstream upstream, string secret = Secret, string? sessionToken = null)
        => new("bedrock", upstream.BaseAddress, "us-west-2", new BedrockAuth(new AwsCredentials(AccessKey, secret, sessionToken), null), UpstreamHttp.CreateClient());

    private static ConverseRequest Request() => new()
    {
        ModelId = ModelId,
        System = [new TextBlock("You are an app that creates playlists."), new CachePointBlock()],
        Messages = [new Message(ConversationRole.User, [new TextBlock("Create a list of 3 pop songs.")])],
        InferenceConfig = new InferenceConfig { MaxTokens = 512, Temperature = 0.5f, StopSequences = ["\n\nHuman:"] },
        ToolConfig = new ToolConfig([new ToolSpecification("top_song", "Get the most popular song", JsonDocument.Parse("""{"type":"object","properties":{"sign":{"type":"string"}}}""").RootElement)], ToolChoice.Auto)
        {
            CachePoint = new CachePointBlock(),
        },
    };

    /// <summary>Recomputes the SigV4 signature from what arrived on the wire, as Bedrock does; false when it does not match.</summary>
    private static bool SignatureValid(ReceivedRequest r)
    {
        if (!SigV4.TryParseAuthorization(r.Header("Authorization"), out var auth) || auth.Service != "bedrock" || auth.Region != "us-west-2")
            return false;
        var q = r.RawTarget.IndexOf('?');
        var wire = new SigV4Request(r.Method, q < 0 ? r.RawTarget : r.RawTarget[..q], q < 0 ? "" : r.RawTarget[(q + 1)..], r.Headers, SigV4.HashHex(r.Body));
        return r.Header("x-amz-content-sha256") == SigV4.HashHex(r.Body)
            && SigV4.SignaturesEqual(auth.Signature, SigV4.ComputeSignature(wire, auth, r.Header("x-amz-date")!, Secret));
    }

    private static async Task<bool> RejectUnsignedAsync(HttpContext ctx, ReceivedRequest r)
    {
        if (SignatureValid(r))
            return false;
        ctx.Response.Headers["x-amzn-ErrorType"] = "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/";
        await FakeUpstream.WriteJsonAsync(ctx, """{"message":"The request signature we calculated does not match the signature you provided."}""", 403);
        return true;
    }

    private static byte[] Frame(string eventType, string json) => EventStreamEncoder.Encode(new EventStreamMessage(
    [
        EventStreamHeader.String(":event-type", eventType),
        EventStreamHeader.String(":content-type", "application/json"),
        EventStreamHeader.String(":message-type", "event"),
    ], Encoding.UTF8.GetBytes(json)));

    private static byte[] ExceptionFrame(string exceptionType, string message) => EventStreamEncoder.Encode(new EventStreamMessage(
    [
        EventStreamHeader.String(":exception-type", exceptionType),
        EventStreamHeader.String(":content-type", "application/json"),
        EventStreamHeader.String(":message-type", "exception"),
    ], Encoding.UTF8.GetBytes($$"""{"message":"{{message}}"}""")));

    private static async Task WriteFramesAsync(HttpContext ctx, IEnumerable<byte[]> frames)
    {
        ctx.Response.ContentType = "application/vnd.amazon.eventstream";
        foreach (var f in frames)
        {
            await ctx.Response.Body.WriteAsync(f);
            await ctx.Response.Body.FlushAsync();
        }
    }

    [Fact]
    public async Task ConverseAsync_SignedRequest_UpstreamVerifiesSignatureAndAnswerIsMapped()
    {
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, r, _) =>
        {
            if (!await RejectUnsignedAsync(ctx, r))
                await FakeUpstream.WriteJsonAsync(ctx, ConverseAnswer);
        });
        using var client = Client(upstream, sessionToken: "FQoGZXIvYXdzEXAMPLE");

        var response = await client.ConverseAsync(Request());

        Assert.StartsWith("Here is a list of 3 pop songs", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.Equal(new TokenUsage(125, 60, 10, 5), response.Usage);
        Assert.Equal(1175, response.LatencyMs);

        var sent = Assert.Single(upstream.Requests);
        Assert.Equal("/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", sent.RawTarget);
        Assert.Equal("FQoGZXIvYXdzEXAMPLE", sent.Header("x-amz-security-token"));
        using var body = JsonDocument.Parse(sent.Body);
        var root = body.RootElement;
        Assert.Equal("Create a list of 3 pop songs.", root.GetProperty("messages")[0].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("default", root.GetProperty("system")[1].GetProperty("cachePoint").GetProperty("type").GetString());
        Assert.Equal(512, root.GetProperty("inferenceConfig").GetProperty("maxTokens").GetInt32());
        Assert.Equal("top_song", root.GetProperty("toolConfig").GetProperty("tools")[0].GetProperty("toolSpec").GetProperty("name").GetString());
        Assert.Equal("object", root.GetProperty("toolConfig").GetProperty("tools")[0].GetProperty("toolSpec").GetProperty("inputSchema").GetProperty("json").GetProperty("type").GetString());
        Assert.True(root.GetProperty("toolConfig").GetProperty("toolChoice").TryGetProperty("auto", out _));
        Assert.Equal("default", root.GetProperty("toolConfig").GetProperty("tools")[1].GetProperty("cachePoint").GetProperty("type").GetString());
    }

    [Fact]
    public async Task ConverseAsync_WrongSecret_UpstreamRejectsSignatureAsAccessDenied()
    {
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, r, _) =>
        {
            if (!await RejectUnsignedAsync(ctx, r))
                await FakeUpstream.WriteJsonAsync(ctx, ConverseAnswer);
        });
        using var client = Client(upstream, secret: "not-the-secret");

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Request()));

        Assert.Equal(ErrorKind.AccessDenied, ex.Kind);
        Assert.Contains("signature we calculated does not match", ex.Message);
    }

    [Fact]
    public async Task ConverseStreamAsync_EventStreamFrames_YieldsNativeEventsInOrder()
    {
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, r, _) =>
        {
            if (await RejectUnsignedAsync(ctx, r))
                return;
            await WriteFramesAsync(ctx,
            [
                Frame("messageStart", """{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM","role":"assistant"}"""),
                Frame("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Let me look"},"p":"abcdefgh"}"""),
                Frame("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":" that up."},"p":"abcd"}"""),
                Frame("contentBlockStop", """{"contentBlockIndex":0,"p":"abcdefghijklmn"}"""),
                Frame("contentBlockStart", """{"contentBlockIndex":1,"p":"abc","start":{"toolUse":{"name":"top_song","toolUseId":"tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"}}}"""),
                Frame("contentBlockDelta", """{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"sign\": \"WZPZ\"}"}},"p":"abcdefghijkl"}"""),
                Frame("contentBlockStop", """{"contentBlockIndex":1,"p":"abcdefgh"}"""),
                Frame("messageStop", """{"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHI","stopReason":"tool_use"}"""),
                Frame("metadata", """{"metrics":{"latencyMs":1019},"p":"abc","usage":{"inputTokens":375,"outputTokens":54,"totalTokens":429,"cacheReadInputTokens":0,"cacheWriteInputTokens":0}}"""),
            ]);
        });
        using var client = Client(upstream);

        var events = await OpenAiClientTests.Collect(client.ConverseStreamAsync(Request()));

        Assert.Equal(
        [
            new MessageStartEvent(ConversationRole.Assistant),
            new ContentBlockDeltaEvent(0, new TextDelta("Let me look")),
            new ContentBlockDeltaEvent(0, new TextDelta(" that up.")),
            new ContentBlockStopEvent(0),
            new ContentBlockStartEvent(1, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "top_song"),
            new ContentBlockDeltaEvent(1, new ToolUseDelta("{\"sign\": \"WZPZ\"}")),
            new ContentBlockStopEvent(1),
            new MessageStopEvent(StopReason.ToolUse),
            new MetadataEvent(new TokenUsage(375, 54), 1019),
        ], events);
        Assert.Equal("/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream", Assert.Single(upstream.Requests).RawTarget);
    }

    [Fact]
    public async Task ConverseStreamAsync_ExceptionFrameMidStream_ThrowsMappedKindWithoutRetry()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => WriteFramesAsync(ctx,
        [
            Frame("messageStart", """{"role":"assistant"}"""),
            Frame("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Hel"}}"""),
            ExceptionFrame("throttlingException", "Too many tokens, please wait before trying again."),
        ]));
        using var client = new ConverseClientBuilder(Client(upstream))
            .UseRetries(new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(5) })
            .Build();

        var ex = await Assert.ThrowsAsync<BasaltException>(() => OpenAiClientTests.Collect(client.ConverseStreamAsync(Request())));

        Assert.Equal(ErrorKind.Throttling, ex.Kind);
        Assert.Contains("Too many tokens", ex.Message);
        Assert.Single(upstream.Requests);
    }

    [Fact]
    public async Task ConverseStreamAsync_ExceptionFrameBeforeFirstEvent_RetriedThenSucceeds()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, n) => WriteFramesAsync(ctx, n == 0
            ? [ExceptionFrame("serviceUnavailableException", "Bedrock is unable to process your request.")]
            :
            [
                Frame("messageStart", """{"role":"assistant"}"""),
                Frame("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Hi"}}"""),
                Frame("contentBlockStop", """{"contentBlockIndex":0}"""),
                Frame("messageStop", """{"stopReason":"end_turn"}"""),
                Frame("metadata", """{"metrics":{"latencyMs":5},"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4}}"""),
            ]));
        using var client = new ConverseClientBuilder(Client(upstream))
            .UseRetries(new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(5) })
            .Build();

        var events = await OpenAiClientTests.Collect(client.ConverseStreamAsync(Request()));

        Assert.Equal(new ContentBlockDeltaEvent(0, new TextDelta("Hi")), events[1]);
        Assert.Equal(2, upstream.Requests.Count);
    }

    [Fact]
    public async Task ConverseStreamAsync_StreamEndsBeforeMessageStop_ThrowsModelError()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => WriteFramesAsync(ctx,
        [
            Frame("messageStart", """{"role":"assistant"}"""),
            Frame("contentBlockDelta", """{"contentBlockIndex":0,"delta":{"text":"Hel"}}"""),
        ]));
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => OpenAiClientTests.Collect(client.ConverseStreamAsync(Request())));

        Assert.Equal(ErrorKind.ModelError, ex.Kind);
        Assert.Contains("messageStop", ex.Message);
    }

    [Theory]
    [InlineData(400, "ValidationException", ErrorKind.Validation)]
    [InlineData(404, "ResourceNotFoundException", ErrorKind.ResourceNotFound)]
    [InlineData(429, "ThrottlingException", ErrorKind.Throttling)]
    [InlineData(503, "ServiceUnavailableException", ErrorKind.ServiceUnavailable)]
    public async Task ConverseAsync_ErrorStatus_ThrowsMappedKindWithBedrockMessage(int status, string type, ErrorKind kind)
    {
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, _, _) =>
        {
            ctx.Response.Headers["x-amzn-ErrorType"] = type + ":http://internal.amazon.com/coral/com.amazon.bedrock/";
            await FakeUpstream.WriteJsonAsync(ctx, $$"""{"message":"bedrock says {{type}}"}""", status);
        });
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Request()));

        Assert.Equal(kind, ex.Kind);
        Assert.Contains($"bedrock says {type}", ex.Message);
    }

    [Fact]
    public async Task CountTokensAsync_Request_CallsCountTokensWithConverseInput()
    {
        await using var upstream = await FakeUpstream.StartAsync(async (ctx, r, _) =>
        {
            if (!await RejectUnsignedAsync(ctx, r))
                await FakeUpstream.WriteJsonAsync(ctx, """{"inputTokens":42}""");
        });
        using var client = Client(upstream);

        var count = await client.CountTokensAsync(Request());

        Assert.Equal(42, count);
        var sent = Assert.Single(upstream.Requests);
        Assert.EndsWith("/count-tokens", sent.RawTarget);
        using var body = JsonDocument.Parse(sent.Body);
        var converse = body.RootElement.GetProperty("input").GetProperty("converse");
        Assert.Equal("user", converse.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.False(converse.TryGetProperty("inferenceConfig", out _));
    }
}
