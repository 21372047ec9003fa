using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Providers.Http;
using Basalt.Providers.OpenAi;
using Basalt.Providers.Tests.Fakes;
using Microsoft.AspNetCore.Http;

namespace Basalt.Providers.Tests.OpenAi;

public sealed class OpenAiClientTests
{
    // Shaped like the chat completion object in OpenAI's API reference.
    private const string TextCompletion = """
        {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I assist you today?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":1919,"completion_tokens":10,"total_tokens":1929,"prompt_tokens_details":{"cached_tokens":1792,"audio_tokens":0},
                  "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},
         "service_tier":"default"}
        """;

    private const string ToolCompletion = """
        {"id":"chatcmpl-abc123","object":"chat.completion","created":1699896916,"model":"gpt-4o-mini",
         "choices":[{"index":0,"message":{"role":"assistant","content":null,
           "tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"get_current_weather","arguments":"{\n\"location\": \"Boston, MA\"\n}"}}]},
           "logprobs":null,"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99}}
        """;

    internal static OpenAiClient Client(FakeUpstream upstream, string? key = "sk-test")
        => new("vllm", new Uri(upstream.BaseAddress, "v1/"), key, UpstreamHttp.CreateClient());

    internal static ConverseRequest Hello() => new()
    {
        ModelId = "gpt-4.1",
        System = [new TextBlock("You are terse."), new CachePointBlock()],
        Messages = [new Message(ConversationRole.User, [new TextBlock("Hello!")])],
        InferenceConfig = new InferenceConfig { MaxTokens = 64, Temperature = 0.5f, TopP = 0.9f, Seed = 7, StopSequences = ["END"] },
    };

    [Fact]
    public async Task ConverseAsync_TextCompletion_MapsTextStopReasonAndCachedUsage()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, TextCompletion));
        using var client = Client(upstream);

        var response = await client.ConverseAsync(Hello());

        Assert.Equal("Hello! How can I assist you today?", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.Equal(new TokenUsage(127, 10, 1792), response.Usage);

        var sent = Assert.Single(upstream.Requests);
        Assert.Equal("/v1/chat/completions", sent.Path);
        Assert.Equal("Bearer sk-test", sent.Header("Authorization"));
        using var body = JsonDocument.Parse(sent.Body);
        var root = body.RootElement;
        Assert.Equal("gpt-4.1", root.GetProperty("model").GetString());
        Assert.Equal("system", root.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal("You are terse.", root.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal("Hello!", root.GetProperty("messages")[1].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal(64, root.GetProperty("max_tokens").GetInt32());
        Assert.Equal(0.5, root.GetProperty("temperature").GetDouble(), 3);
        Assert.Equal(0.9, root.GetProperty("top_p").GetDouble(), 3);
        Assert.Equal(7, root.GetProperty("seed").GetInt64());
        Assert.Equal("END", root.GetProperty("stop")[0].GetString());
        Assert.False(root.TryGetProperty("stream", out _));
    }

    [Fact]
    public async Task ConverseAsync_ToolConversation_SendsToolsChoiceAndResultsAndMapsToolCalls()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, ToolCompletion));
        using var client = Client(upstream);
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}""").RootElement;
        var request = new ConverseRequest
        {
            ModelId = "gpt-4o-mini",
            Messages =
            [
                new Message(ConversationRole.User, [new TextBlock("Weather in Paris?")]),
                new Message(ConversationRole.Assistant, [new ToolUseBlock("call_1", "get_current_weather", JsonDocument.Parse("""{"location":"Paris"}""").RootElement)]),
                new Message(ConversationRole.User, [new ToolResultBlock("call_1", [new ToolResultJson(JsonDocument.Parse("""{"temp":21}""").RootElement)]), new TextBlock("And Boston?")]),
            ],
            ToolConfig = new ToolConfig([new ToolSpecification("get_current_weather", "Current weather", schema)], new ToolChoice(ToolChoiceKind.Tool, "get_current_weather")),
        };

        var response = await client.ConverseAsync(request);

        Assert.Equal(StopReason.ToolUse, response.StopReason);
        var use = Assert.IsType<ToolUseBlock>(Assert.Single(response.Output.Content));
        Assert.Equal("call_abc123", use.ToolUseId);
        Assert.Equal("get_current_weather", use.Name);
        Assert.Equal("Boston, MA", use.Input.GetProperty("location").GetString());

        using var body = JsonDocument.Parse(Assert.Single(upstream.Requests).Body);
        var root = body.RootElement;
        var tool = root.GetProperty("tools")[0];
        Assert.Equal("function", tool.GetProperty("type").GetString());
        Assert.Equal("get_current_weather", tool.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("object", tool.GetProperty("function").GetProperty("parameters").GetProperty("type").GetString());
        Assert.Equal("get_current_weather", root.GetProperty("tool_choice").GetProperty("function").GetProperty("name").GetString());
        var messages = root.GetProperty("messages");
        Assert.Equal("assistant", messages[1].GetProperty("role").GetString());
        Assert.Equal("call_1", messages[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
        Assert.Equal("""{"location":"Paris"}""", messages[1].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tool", messages[2].GetProperty("role").GetString());
        Assert.Equal("call_1", messages[2].GetProperty("tool_call_id").GetString());
        Assert.Equal("""{"temp":21}""", messages[2].GetProperty("content").GetString());
        Assert.Equal("user", messages[3].GetProperty("role").GetString());
    }

    [Fact]
    public async Task ConverseAsync_ImageAndJsonSchema_SendsDataUrlAndResponseFormat()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, TextCompletion));
        using var client = Client(upstream);
        var request = Hello() with
        {
            Messages = [new Message(ConversationRole.User, [new TextBlock("What is this?"), new ImageBlock("png", new byte[] { 0x89, 0x50, 0x4E, 0x47 })])],
            ResponseFormat = new ResponseFormat("json_schema", "answer", JsonDocument.Parse("""{"type":"object"}""").RootElement, Strict: true),
        };

        await client.ConverseAsync(request);

        using var body = JsonDocument.Parse(Assert.Single(upstream.Requests).Body);
        var part = body.RootElement.GetProperty("messages")[1].GetProperty("content")[1];
        Assert.Equal("image_url", part.GetProperty("type").GetString());
        Assert.Equal("data:image/png;base64,iVBORw==", part.GetProperty("image_url").GetProperty("url").GetString());
        var format = body.RootElement.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("answer", format.GetProperty("json_schema").GetProperty("name").GetString());
        Assert.True(format.GetProperty("json_schema").GetProperty("strict").GetBoolean());
    }

    [Fact]
    public async Task ConverseStreamAsync_TextChunks_YieldsConverseStreamOrderWithUsage()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteSseAsync(ctx,
        [
            """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}""",
            """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}""",
            """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null}""",
            """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null}""",
            """data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":4}}}""",
            "data: [DONE]",
        ]));
        using var client = Client(upstream);

        var events = await Collect(client.ConverseStreamAsync(Hello()));

        Assert.Equal(
        [
            new MessageStartEvent(ConversationRole.Assistant),
            new ContentBlockDeltaEvent(0, new TextDelta("Hel")),
            new ContentBlockDeltaEvent(0, new TextDelta("lo")),
            new ContentBlockStopEvent(0),
            new MessageStopEvent(StopReason.MaxTokens),
        ], events.Take(5));
        var metadata = Assert.IsType<MetadataEvent>(events[5]);
        Assert.Equal(new TokenUsage(8, 2, 4), metadata.Usage);
        using var body = JsonDocument.Parse(Assert.Single(upstream.Requests).Body);
        Assert.True(body.RootElement.GetProperty("stream").GetBoolean());
        Assert.True(body.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
    }

    [Fact]
    public async Task ConverseStreamAsync_ToolCallChunks_StartsToolBlockAndStreamsArguments()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteSseAsync(ctx,
        [
            """data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Let me check."},"finish_reason":null}]}""",
            """data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}""",
            """data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"loc"}}]},"finish_reason":null}]}""",
            """data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\":\"Oslo\"}"}}]},"finish_reason":null}]}""",
            """data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}""",
            "data: [DONE]",
        ]));
        using var client = Client(upstream);

        var events = await Collect(client.ConverseStreamAsync(Hello()));

        Assert.Equal(
        [
            new MessageStartEvent(ConversationRole.Assistant),
            new ContentBlockDeltaEvent(0, new TextDelta("Let me check.")),
            new ContentBlockStopEvent(0),
            new ContentBlockStartEvent(1, "call_9", "get_weather"),
            new ContentBlockDeltaEvent(1, new ToolUseDelta("{\"loc")),
            new ContentBlockDeltaEvent(1, new ToolUseDelta("ation\":\"Oslo\"}")),
            new ContentBlockStopEvent(1),
            new MessageStopEvent(StopReason.ToolUse),
        ], events.Take(8));
        Assert.IsType<MetadataEvent>(events[8]);
    }

    [Theory]
    [InlineData(400, ErrorKind.Validation)]
    [InlineData(401, ErrorKind.AccessDenied)]
    [InlineData(403, ErrorKind.AccessDenied)]
    [InlineData(404, ErrorKind.ResourceNotFound)]
    [InlineData(408, ErrorKind.ModelTimeout)]
    [InlineData(429, ErrorKind.Throttling)]
    [InlineData(500, ErrorKind.ModelError)]
    [InlineData(503, ErrorKind.ServiceUnavailable)]
    public async Task ConverseAsync_UpstreamErrorStatus_ThrowsMappedKindWithUpstreamMessage(int status, ErrorKind kind)
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx,
            """{"error":{"message":"Incorrect API key provided: sk-test.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}""", status));
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Hello()));

        Assert.Equal(kind, ex.Kind);
        Assert.Contains("Incorrect API key provided", ex.Message);
        Assert.Contains("'vllm'", ex.Message);
        if (kind == ErrorKind.AccessDenied)
            Assert.Contains("not yours", ex.Message);
    }

    [Fact]
    public async Task ConverseAsync_NothingListening_ThrowsServiceUnavailable()
    {
        Uri dead;
        await using (var upstream = await FakeUpstream.StartAsync((ctx, _, _) => Task.CompletedTask))
            dead = upstream.BaseAddress;
        using var client = new OpenAiClient("vllm", dead, null, UpstreamHttp.CreateClient());

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Hello()));

        Assert.Equal(ErrorKind.ServiceUnavailable, ex.Kind);
        Assert.Contains("could not be reached", ex.Message);
    }

    [Fact]
    public async Task ConverseStreamAsync_ErrorChunkMidStream_ThrowsModelError()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteSseAsync(ctx,
        [
            """data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}""",
            """data: {"error":{"message":"The server had an error while processing your request.","type":"server_error"}}""",
        ]));
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => Collect(client.ConverseStreamAsync(Hello())));

        Assert.Equal(ErrorKind.ModelError, ex.Kind);
        Assert.Contains("server had an error", ex.Message);
    }

    [Fact]
    public async Task CountTokensAsync_LongerPrompt_EstimatesMoreTokens()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => Task.CompletedTask);
        using var client = Client(upstream);
        var longer = Hello() with { Messages = [new Message(ConversationRole.User, [new TextBlock(new string('x', 4000))])] };

        var small = await client.CountTokensAsync(Hello());
        var large = await client.CountTokensAsync(longer);

        Assert.InRange(small, 1, 100);
        Assert.InRange(large, 1000, 1100);
        Assert.Empty(upstream.Requests);
    }

    internal static async Task<List<ConverseStreamEvent>> Collect(IAsyncEnumerable<ConverseStreamEvent> events, CancellationToken cancellationToken = default)
    {
        var list = new List<ConverseStreamEvent>();
        await foreach (var e in events.WithCancellation(cancellationToken))
            list.Add(e);
        return list;
    }
}

public sealed class OpenAiMappingTests
{
    [Theory]
    [InlineData("""{"finish_reason":"stop","stop_reason":null}""", StopReason.EndTurn)]
    [InlineData("""{"finish_reason":"stop","stop_reason":"END"}""", StopReason.StopSequence)]
    [InlineData("""{"finish_reason":"length"}""", StopReason.MaxTokens)]
    [InlineData("""{"finish_reason":"tool_calls"}""", StopReason.ToolUse)]
    [InlineData("""{"finish_reason":"content_filter"}""", StopReason.ContentFiltered)]
    public void FinishReason_UpstreamChoice_MapsToStopReason(string choiceJson, StopReason expected)
    {
        var choice = JsonDocument.Parse(choiceJson).RootElement;
        Assert.Equal(expected, OpenAiMapping.FinishReason(choice.GetProperty("finish_reason").GetString(), choice));
    }

    [Fact]
    public void BuildRequest_UnsupportedDocumentFormat_ThrowsValidationNamingTheDocument()
    {
        var request = new ConverseRequest
        {
            ModelId = "m",
            Messages = [new Message(ConversationRole.User, [new DocumentBlock("docx", "report", new byte[] { 1, 2 })])],
        };

        var ex = Assert.Throws<BasaltException>(() => OpenAiMapping.BuildRequest(request, stream: false));

        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Contains("report", ex.Message);
    }
}
