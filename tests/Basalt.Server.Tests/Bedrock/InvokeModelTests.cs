using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Bedrock;

public sealed class InvokeModelTests
{
    private const string AnthropicBody = """
        {"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"system":"be kind","temperature":0.3,"top_k":7,
         "stop_sequences":["STOP"],
         "messages":[{"role":"user","content":"hi claude"}]}
        """;

    [Fact]
    public async Task Invoke_AnthropicBody_AnswersAnAnthropicMessage()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/invoke", AnthropicBody);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("message", body.GetProperty("type").GetString());
        Assert.StartsWith("msg_", body.GetProperty("id").GetString());
        Assert.Equal("assistant", body.GetProperty("role").GetString());
        Assert.Equal("scripted-model", body.GetProperty("model").GetString());
        Assert.Equal("text", body.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.Equal("echo: hi claude", body.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", body.GetProperty("stop_reason").GetString());
        Assert.Equal(2, body.GetProperty("usage").GetProperty("input_tokens").GetInt32());
        Assert.Equal(3, body.GetProperty("usage").GetProperty("output_tokens").GetInt32());
        Assert.Equal("2", response.Headers.GetValues("X-Amzn-Bedrock-Input-Token-Count").Single());
        Assert.Equal("3", response.Headers.GetValues("X-Amzn-Bedrock-Output-Token-Count").Single());

        var seen = Assert.Single(server.Provider.Requests);
        Assert.Equal(100, seen.InferenceConfig!.MaxTokens);
        Assert.Equal(0.3f, seen.InferenceConfig.Temperature);
        Assert.Equal(["STOP"], seen.InferenceConfig.StopSequences!);
        Assert.Equal("be kind", Assert.IsType<TextBlock>(Assert.Single(seen.System)).Text);
        Assert.Equal(7, seen.AdditionalModelRequestFields!.Value.GetProperty("top_k").GetInt32());
    }

    [Fact]
    public async Task Invoke_AnthropicToolsAndBlocks_AreTranslated()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ =>
        {
            using var input = JsonDocument.Parse("""{"city":"Oslo"}""");
            return new ConverseResponse
            {
                Output = new Message(ConversationRole.Assistant, [new ToolUseBlock("toolu_1", "get_weather", input.RootElement.Clone())]),
                StopReason = StopReason.ToolUse,
                Usage = new TokenUsage(5, 5),
            };
        };
        using var client = server.CreateClient();
        var png = Convert.ToBase64String([1, 2, 3]);
        var (response, body) = await PostAsync(client, "/model/scripted-tools/invoke", """
            {"anthropic_version":"bedrock-2023-05-31","max_tokens":50,
             "tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object"}}],
             "tool_choice":{"type":"tool","name":"get_weather"},
             "messages":[
               {"role":"user","content":[{"type":"text","text":"weather?","cache_control":{"type":"ephemeral"}},
                                         {"type":"image","source":{"type":"base64","media_type":"image/png","data":"@PNG"}}]},
               {"role":"assistant","content":[{"type":"tool_use","id":"toolu_0","name":"get_weather","input":{"city":"Rome"}}]},
               {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_0","content":"sunny","is_error":false}]}]}
            """.Replace("@PNG", png));
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("tool_use", body.GetProperty("stop_reason").GetString());
        var use = body.GetProperty("content")[0];
        Assert.Equal(("tool_use", "toolu_1", "get_weather"), (use.GetProperty("type").GetString(), use.GetProperty("id").GetString(), use.GetProperty("name").GetString()));
        Assert.Equal("Oslo", use.GetProperty("input").GetProperty("city").GetString());

        var seen = Assert.Single(server.Provider.Requests);
        Assert.Equal(ToolChoiceKind.Tool, seen.ToolConfig!.ToolChoice!.Kind);
        Assert.IsType<TextBlock>(seen.Messages[0].Content[0]);
        Assert.IsType<CachePointBlock>(seen.Messages[0].Content[1]);
        Assert.Equal("png", Assert.IsType<ImageBlock>(seen.Messages[0].Content[2]).Format);
        Assert.Equal("Rome", Assert.IsType<ToolUseBlock>(seen.Messages[1].Content[0]).Input.GetProperty("city").GetString());
        var result = Assert.IsType<ToolResultBlock>(seen.Messages[2].Content[0]);
        Assert.Equal(("toolu_0", ToolResultStatus.Success), (result.ToolUseId, result.Status));
        Assert.Equal("sunny", Assert.IsType<ToolResultText>(Assert.Single(result.Content)).Text);
    }

    [Fact]
    public async Task Invoke_ConverseShapedBody_AnswersAConverseResponse()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/invoke", """
            {"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"hi nova"}]}],
             "inferenceConfig":{"max_new_tokens":12}}
            """);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("echo: hi nova", body.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", body.GetProperty("stopReason").GetString());
        Assert.Equal(12, Assert.Single(server.Provider.Requests).InferenceConfig!.MaxTokens);
    }

    [Fact]
    public async Task InvokeStream_AnthropicBody_SendsAnthropicEventsAsBase64Chunks()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var frames = await StreamAsync(client, "/model/scripted-model/invoke-with-response-stream", AnthropicBody);
        var events = frames.Select(ChunkJson).ToList();
        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal("message_start", types[0]);
        Assert.Equal("content_block_start", types[1]);
        Assert.Equal(["content_block_stop", "message_delta", "message_stop"], types.TakeLast(3));
        var text = string.Concat(events.Where(e => e.GetProperty("type").GetString() == "content_block_delta")
            .Select(e => e.GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal("echo: hi claude", text);
        Assert.Equal("end_turn", events[^2].GetProperty("delta").GetProperty("stop_reason").GetString());
        Assert.Equal(3, events[^2].GetProperty("usage").GetProperty("output_tokens").GetInt32());
        var metrics = events[^1].GetProperty("amazon-bedrock-invocationMetrics");
        Assert.Equal(2, metrics.GetProperty("inputTokenCount").GetInt32());
        Assert.Equal(3, metrics.GetProperty("outputTokenCount").GetInt32());
    }

    [Fact]
    public async Task InvokeStream_ConverseShapedBody_SendsWrappedConverseEvents()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var frames = await StreamAsync(client, "/model/scripted-model/invoke-with-response-stream", """{"messages":[{"role":"user","content":[{"text":"hi nova"}]}]}""");
        var events = frames.Select(ChunkJson).ToList();
        Assert.True(events[0].TryGetProperty("messageStart", out _));
        var text = string.Concat(events.Where(e => e.TryGetProperty("contentBlockDelta", out _))
            .Select(e => e.GetProperty("contentBlockDelta").GetProperty("delta").GetProperty("text").GetString()));
        Assert.Equal("echo: hi nova", text);
        var metadata = events[^1].GetProperty("metadata");
        Assert.Equal(3, metadata.GetProperty("usage").GetProperty("outputTokens").GetInt32());
        Assert.Equal(3, events[^1].GetProperty("amazon-bedrock-invocationMetrics").GetProperty("outputTokenCount").GetInt32());
    }

    [Fact]
    public async Task Invoke_UnknownBodyFamily_IsValidationNamingTheFamilies()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/invoke", """{"prompt":"Human: hi\n\nAssistant:"}""");
        var message = AssertError(response, body, 400, "ValidationException");
        Assert.Contains("anthropic_version", message);
        Assert.Contains("docs/invoke.md", message);
    }

    [Theory]
    [InlineData("""{"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"anthropic_version":"bedrock-2023-05-31","max_tokens":0,"messages":[{"role":"user","content":"x"}]}""", "max_tokens")]
    [InlineData("""{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"robot","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"video"}]}]}""", "messages[0].content[0].type")]
    [InlineData("""{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"temperature":3,"messages":[{"role":"user","content":"x"}]}""", "temperature")]
    public async Task Invoke_BadAnthropicBody_IsValidationNamingTheField(string json, string field)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/invoke", json);
        Assert.StartsWith(field, AssertError(response, body, 400, "ValidationException"));
    }

    [Fact]
    public async Task Invoke_NonJsonContentType_IsValidation()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var response = await client.PostAsync("/model/scripted-model/invoke", new StringContent("hello", Encoding.UTF8, "text/plain"));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("application/json", AssertError(response, doc.RootElement, 400, "ValidationException"));
    }

    [Fact]
    public async Task CountTokens_ConverseInput_ReturnsProviderCount()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/count-tokens", """
            {"input":{"converse":{"messages":[{"role":"user","content":[{"text":"count these four"}]}],"system":[{"text":"sys"}]}}}
            """);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(3, body.GetProperty("inputTokens").GetInt32());
    }

    [Fact]
    public async Task CountTokens_InvokeModelInput_DecodesTheBase64Body()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var inner = Convert.ToBase64String(Encoding.UTF8.GetBytes(AnthropicBody.Replace("hi claude", "one two three four five")));
        var (response, body) = await PostAsync(client, "/model/scripted-model/count-tokens", """{"input":{"invokeModel":{"body":"@B"}}}""".Replace("@B", inner));
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(5, body.GetProperty("inputTokens").GetInt32());
    }

    [Theory]
    [InlineData("""{}""", "input")]
    [InlineData("""{"input":{}}""", "input")]
    [InlineData("""{"input":{"converse":{},"invokeModel":{"body":""}}}""", "input")]
    [InlineData("""{"input":{"invokeModel":{"body":"!!notbase64"}}}""", "input.invokeModel.body")]
    public async Task CountTokens_BadInput_IsValidationNamingTheField(string json, string field)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/count-tokens", json);
        Assert.StartsWith(field, AssertError(response, body, 400, "ValidationException"));
    }

    [Fact]
    public async Task CountTokens_UnknownModel_Is404()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/ghost/count-tokens", """{"input":{"converse":{"messages":[]}}}""");
        AssertError(response, body, 404, "ResourceNotFoundException");
    }
}
