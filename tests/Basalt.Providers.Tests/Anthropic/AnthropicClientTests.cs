using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Core.Pipeline;
using Basalt.Providers.Anthropic;
using Basalt.Providers.Http;
using Basalt.Providers.Tests.Fakes;
using Basalt.Providers.Tests.OpenAi;

namespace Basalt.Providers.Tests.Anthropic;

public sealed class AnthropicClientTests
{
    // Shaped like the Messages API reference's response example, with prompt-caching usage fields.
    private const string TextMessage = """
        {"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[{"type":"text","text":"Hi! My name is Claude."}],"stop_reason":"end_turn","stop_sequence":null,
         "usage":{"input_tokens":21,"cache_creation_input_tokens":188086,"cache_read_input_tokens":0,"output_tokens":393}}
        """;

    private const string ToolMessage = """
        {"id":"msg_01Aq9w938a90dw8q","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[
           {"type":"thinking","thinking":"The user wants the weather; I should call the tool.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
           {"type":"text","text":"I'll check the weather in San Francisco."},
           {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"}}],
         "stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":472,"output_tokens":89,"cache_read_input_tokens":2048,"cache_creation_input_tokens":0}}
        """;

    private static AnthropicClient Client(FakeUpstream upstream)
        => new("anthropic", upstream.BaseAddress, "sk-ant-test", UpstreamHttp.CreateClient());

    private static readonly JsonElement WeatherSchema = JsonDocument.Parse("""{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}""").RootElement;

    [Fact]
    public async Task ConverseAsync_CachePoints_SendsCacheControlOnPrecedingBlocksAndMapsCacheUsage()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, TextMessage));
        using var client = Client(upstream);
        var request = new ConverseRequest
        {
            ModelId = "claude-sonnet-4-5",
            System = [new TextBlock("You are a literary analyst."), new CachePointBlock("1h")],
            Messages = [new Message(ConversationRole.User, [new TextBlock("<the whole novel>"), new CachePointBlock(), new TextBlock("Who is the narrator?")])],
            InferenceConfig = new InferenceConfig { Temperature = 0.2f, StopSequences = ["\n\nHuman:"] },
        };

        var response = await client.ConverseAsync(request);

        Assert.Equal("Hi! My name is Claude.", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.Equal(new TokenUsage(21, 393, 0, 188086), response.Usage);

        var sent = Assert.Single(upstream.Requests);
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Equal("sk-ant-test", sent.Header("x-api-key"));
        Assert.Equal("2023-06-01", sent.Header("anthropic-version"));
        using var body = JsonDocument.Parse(sent.Body);
        var root = body.RootElement;
        Assert.Equal(AnthropicMapping.DefaultMaxTokens, root.GetProperty("max_tokens").GetInt32());
        var systemCache = root.GetProperty("system")[0].GetProperty("cache_control");
        Assert.Equal("ephemeral", systemCache.GetProperty("type").GetString());
        Assert.Equal("1h", systemCache.GetProperty("ttl").GetString());
        var content = root.GetProperty("messages")[0].GetProperty("content");
        Assert.Equal(2, content.GetArrayLength());
        Assert.Equal("ephemeral", content[0].GetProperty("cache_control").GetProperty("type").GetString());
        Assert.False(content[0].GetProperty("cache_control").TryGetProperty("ttl", out _));
        Assert.False(content[1].TryGetProperty("cache_control", out _));
        Assert.Equal("\n\nHuman:", root.GetProperty("stop_sequences")[0].GetString());
    }

    [Fact]
    public async Task ConverseAsync_ToolTurnWithThinking_MapsReasoningTextAndToolUse()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, ToolMessage));
        using var client = Client(upstream);
        var request = new ConverseRequest
        {
            ModelId = "claude-sonnet-4-5",
            Messages =
            [
                new Message(ConversationRole.User, [new TextBlock("Weather?"), new ImageBlock("jpeg", new byte[] { 0xFF, 0xD8, 0xFF })]),
                new Message(ConversationRole.Assistant, [new ReasoningBlock("thinking...", "sig-1"), new ToolUseBlock("toolu_1", "get_weather", JsonDocument.Parse("""{"location":"Paris"}""").RootElement)]),
                new Message(ConversationRole.User, [new ToolResultBlock("toolu_1", [new ToolResultText("service down")], ToolResultStatus.Error)]),
            ],
            ToolConfig = new ToolConfig([new ToolSpecification("get_weather", "Current weather", WeatherSchema)], ToolChoice.Any) { CachePoint = new CachePointBlock("1h") },
            AdditionalModelRequestFields = JsonDocument.Parse("""{"thinking":{"type":"enabled","budget_tokens":2048}}""").RootElement,
        };

        var response = await client.ConverseAsync(request);

        Assert.Equal(StopReason.ToolUse, response.StopReason);
        var reasoning = Assert.IsType<ReasoningBlock>(response.Output.Content[0]);
        Assert.Equal("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds", reasoning.Signature);
        Assert.IsType<TextBlock>(response.Output.Content[1]);
        var use = Assert.IsType<ToolUseBlock>(response.Output.Content[2]);
        Assert.Equal("toolu_01A09q90qw90lq917835lq9", use.ToolUseId);
        Assert.Equal("celsius", use.Input.GetProperty("unit").GetString());
        Assert.Equal(new TokenUsage(472, 89, 2048, 0), response.Usage);

        using var body = JsonDocument.Parse(Assert.Single(upstream.Requests).Body);
        var root = body.RootElement;
        Assert.Equal("any", root.GetProperty("tool_choice").GetProperty("type").GetString());
        Assert.Equal("object", root.GetProperty("tools")[0].GetProperty("input_schema").GetProperty("type").GetString());
        Assert.Equal("1h", root.GetProperty("tools")[0].GetProperty("cache_control").GetProperty("ttl").GetString());
        Assert.Equal(2048, root.GetProperty("thinking").GetProperty("budget_tokens").GetInt32());
        var messages = root.GetProperty("messages");
        Assert.Equal("image/jpeg", messages[0].GetProperty("content")[1].GetProperty("source").GetProperty("media_type").GetString());
        Assert.Equal("/9j/", messages[0].GetProperty("content")[1].GetProperty("source").GetProperty("data").GetString());
        Assert.Equal("thinking", messages[1].GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("sig-1", messages[1].GetProperty("content")[0].GetProperty("signature").GetString());
        Assert.Equal("tool_use", messages[1].GetProperty("content")[1].GetProperty("type").GetString());
        var result = messages[2].GetProperty("content")[0];
        Assert.Equal("tool_result", result.GetProperty("type").GetString());
        Assert.Equal("toolu_1", result.GetProperty("tool_use_id").GetString());
        Assert.True(result.GetProperty("is_error").GetBoolean());
        Assert.Equal("service down", result.GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task ConverseStreamAsync_DocumentedTextStream_YieldsNativeEventsWithUsage()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteSseAsync(ctx,
        [
            "event: message_start\ndata: {\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-sonnet-4-5\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": 25, \"output_tokens\": 1, \"cache_read_input_tokens\": 7}}}",
            "event: content_block_start\ndata: {\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {\"type\": \"text\", \"text\": \"\"}}",
            "event: ping\ndata: {\"type\": \"ping\"}",
            "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"Hello\"}}",
            "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {\"type\": \"text_delta\", \"text\": \"!\"}}",
            "event: content_block_stop\ndata: {\"type\": \"content_block_stop\", \"index\": 0}",
            "event: message_delta\ndata: {\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\", \"stop_sequence\":null}, \"usage\": {\"output_tokens\": 15}}",
            "event: message_stop\ndata: {\"type\": \"message_stop\"}",
        ]));
        using var client = Client(upstream);

        var events = await OpenAiClientTests.Collect(client.ConverseStreamAsync(new ConverseRequest { ModelId = "claude", Messages = [new Message(ConversationRole.User, [new TextBlock("Hi")])] }));

        Assert.Equal(
        [
            new MessageStartEvent(ConversationRole.Assistant),
            new ContentBlockDeltaEvent(0, new TextDelta("Hello")),
            new ContentBlockDeltaEvent(0, new TextDelta("!")),
            new ContentBlockStopEvent(0),
            new MessageStopEvent(StopReason.EndTurn),
        ], events.Take(5));
        Assert.Equal(new TokenUsage(25, 15, 7, 0), Assert.IsType<MetadataEvent>(events[5]).Usage);
        Assert.Equal(6, events.Count);
        using var body = JsonDocument.Parse(Assert.Single(upstream.Requests).Body);
        Assert.True(body.RootElement.GetProperty("stream").GetBoolean());
    }

    [Fact]
    public async Task ConverseStreamAsync_ThinkingThenToolUse_StreamsReasoningSignatureAndToolInput()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteSseAsync(ctx,
        [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"usage\":{\"input_tokens\":400,\"output_tokens\":1}}}",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"I need the weather.\"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds\"}}",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"San Fra\"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisco, CA\\\"}\"}}",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}",
        ]));
        using var client = Client(upstream);

        var events = await OpenAiClientTests.Collect(client.ConverseStreamAsync(new ConverseRequest { ModelId = "claude", Messages = [new Message(ConversationRole.User, [new TextBlock("Weather?")])] }));

        Assert.Equal(
        [
            new MessageStartEvent(ConversationRole.Assistant),
            new ContentBlockDeltaEvent(0, new ReasoningDelta("I need the weather.")),
            new ContentBlockDeltaEvent(0, new ReasoningDelta(null, "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds")),
            new ContentBlockStopEvent(0),
            new ContentBlockStartEvent(1, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
            new ContentBlockDeltaEvent(1, new ToolUseDelta("")),
            new ContentBlockDeltaEvent(1, new ToolUseDelta("{\"location\": \"San Fra")),
            new ContentBlockDeltaEvent(1, new ToolUseDelta("ncisco, CA\"}")),
            new ContentBlockStopEvent(1),
            new MessageStopEvent(StopReason.ToolUse),
        ], events.Take(10));
        Assert.Equal(new TokenUsage(400, 89), Assert.IsType<MetadataEvent>(events[10]).Usage);
    }

    [Fact]
    public async Task ConverseStreamAsync_OverloadedErrorEvent_ThrowsServiceUnavailable()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteSseAsync(ctx,
        [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}",
            "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}",
        ]));
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => OpenAiClientTests.Collect(client.ConverseStreamAsync(new ConverseRequest { ModelId = "claude" })));

        Assert.Equal(ErrorKind.ServiceUnavailable, ex.Kind);
        Assert.Contains("Overloaded", ex.Message);
    }

    [Theory]
    [InlineData(401, "authentication_error", ErrorKind.AccessDenied)]
    [InlineData(404, "not_found_error", ErrorKind.ResourceNotFound)]
    [InlineData(429, "rate_limit_error", ErrorKind.Throttling)]
    [InlineData(529, "overloaded_error", ErrorKind.ServiceUnavailable)]
    public async Task ConverseAsync_ErrorStatus_ThrowsMappedKind(int status, string type, ErrorKind kind)
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx,
            $$$"""{"type":"error","error":{"type":"{{{type}}}","message":"upstream says {{{type}}}"} }""", status));
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(new ConverseRequest { ModelId = "claude" }));

        Assert.Equal(kind, ex.Kind);
        Assert.Contains($"upstream says {type}", ex.Message);
    }

    [Fact]
    public async Task CountTokensAsync_Request_UsesCountTokensEndpointWithoutMaxTokens()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, """{"input_tokens":2095}"""));
        using var client = Client(upstream);
        var request = new ConverseRequest
        {
            ModelId = "claude-sonnet-4-5",
            System = [new TextBlock("You are a scientist")],
            Messages = [new Message(ConversationRole.User, [new TextBlock("Hello, Claude")])],
            InferenceConfig = new InferenceConfig { MaxTokens = 100 },
        };

        var count = await client.CountTokensAsync(request);

        Assert.Equal(2095, count);
        var sent = Assert.Single(upstream.Requests);
        Assert.Equal("/v1/messages/count_tokens", sent.Path);
        using var body = JsonDocument.Parse(sent.Body);
        Assert.False(body.RootElement.TryGetProperty("max_tokens", out _));
        Assert.Equal("You are a scientist", body.RootElement.GetProperty("system")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task ConverseAsync_429ThenSuccess_RetriedByPipeline()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, n) => n == 0
            ? FakeUpstream.WriteJsonAsync(ctx, """{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}""", 429)
            : FakeUpstream.WriteJsonAsync(ctx, TextMessage));
        using var client = new ConverseClientBuilder(Client(upstream))
            .UseRetries(new RetryOptions { BaseDelay = TimeSpan.FromMilliseconds(5) })
            .Build();

        var response = await client.ConverseAsync(new ConverseRequest { ModelId = "claude" });

        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.Equal(2, upstream.Requests.Count);
    }

    [Fact]
    public async Task ConverseAsync_CachePointFirst_ThrowsValidationWithoutCallingUpstream()
    {
        await using var upstream = await FakeUpstream.StartAsync((ctx, _, _) => FakeUpstream.WriteJsonAsync(ctx, TextMessage));
        using var client = Client(upstream);

        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(new ConverseRequest { ModelId = "claude", System = [new CachePointBlock()] }));

        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Empty(upstream.Requests);
    }
}
