using System.Net;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>What the provider receives for an OpenAI request, and what the caller receives for a native response.</summary>
public sealed class ChatCompletionsTranslationTests
{
    private static readonly byte[] Png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3];

    private static async Task<ConverseRequest> SendAsync(string json)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (status, body) = await OpenAiHttp.PostChatAsync(client, json);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return Assert.Single(server.Provider.Requests);
    }

    [Fact]
    public async Task Messages_ToolCallsAndResults_BecomeAlternatingConverseTurns()
    {
        var sent = await SendAsync("""
            {"model":"scripted-tools","messages":[
              {"role":"system","content":"You are terse."},
              {"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"call_b","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
              {"role":"tool","tool_call_id":"call_a","content":"sunny"},
              {"role":"tool","tool_call_id":"call_b","content":[{"type":"text","text":"rainy"}]},
              {"role":"user","content":"Which is nicer?"}],
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}
            """);

        Assert.Equal("You are terse.", Assert.IsType<TextBlock>(Assert.Single(sent.System)).Text);
        Assert.Equal([ConversationRole.User, ConversationRole.Assistant, ConversationRole.User], sent.Messages.Select(m => m.Role));
        var calls = sent.Messages[1].Content.Cast<ToolUseBlock>().ToList();
        Assert.Equal(["call_a", "call_b"], calls.Select(c => c.ToolUseId));
        Assert.Equal("Rome", calls[1].Input.GetProperty("city").GetString());
        var last = sent.Messages[2].Content;
        Assert.Equal(3, last.Count);
        Assert.Equal("call_a", Assert.IsType<ToolResultBlock>(last[0]).ToolUseId);
        Assert.Equal("rainy", Assert.IsType<ToolResultText>(Assert.Single(Assert.IsType<ToolResultBlock>(last[1]).Content)).Text);
        Assert.Equal("Which is nicer?", Assert.IsType<TextBlock>(last[2]).Text);
    }

    [Fact]
    public async Task Content_ImageDataUrl_BecomesImageBlockWithTheBytes()
    {
        var sent = await SendAsync($$$"""
            {"model":"scripted-model","messages":[{"role":"user","content":[
              {"type":"text","text":"What is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,{{{Convert.ToBase64String(Png)}}}","detail":"low"}}]}]}
            """);

        var content = Assert.Single(sent.Messages).Content;
        Assert.Equal("What is this?", Assert.IsType<TextBlock>(content[0]).Text);
        var image = Assert.IsType<ImageBlock>(content[1]);
        Assert.Equal("png", image.Format);
        Assert.Equal(Png, image.Bytes.ToArray());
    }

    [Fact]
    public async Task Content_FileDataUrl_BecomesDocumentBlock()
    {
        var sent = await SendAsync("""
            {"model":"scripted-model","messages":[{"role":"user","content":[
              {"type":"file","file":{"filename":"report.pdf","file_data":"data:application/pdf;base64,JVBERi0xLjQ="}},
              {"type":"text","text":"Summarize"}]}]}
            """);

        var document = Assert.IsType<DocumentBlock>(Assert.Single(sent.Messages).Content[0]);
        Assert.Equal("pdf", document.Format);
        Assert.Equal("report", document.Name);
        Assert.Equal("%PDF-1.4"u8.ToArray(), document.Bytes.ToArray());
    }

    [Fact]
    public async Task DeveloperMessages_JoinTheSystemPrompt()
    {
        var sent = await SendAsync("""
            {"model":"scripted-model","messages":[
              {"role":"developer","content":[{"type":"text","text":"Rule one."},{"type":"text","text":"Rule two."}]},
              {"role":"user","content":"hi"}]}
            """);

        Assert.Equal(["Rule one.", "Rule two."], sent.System.Cast<TextBlock>().Select(b => b.Text));
        Assert.Single(sent.Messages);
    }

    [Theory]
    [InlineData("\"none\"", ToolChoiceKind.None, null)]
    [InlineData("\"auto\"", ToolChoiceKind.Auto, null)]
    [InlineData("\"required\"", ToolChoiceKind.Any, null)]
    [InlineData("""{"type":"function","function":{"name":"lookup"}}""", ToolChoiceKind.Tool, "lookup")]
    public async Task ToolChoice_EachForm_MapsToNativeChoice(string choice, ToolChoiceKind kind, string? name)
    {
        var sent = await SendAsync($$$"""
            {"model":"scripted-tools","messages":[{"role":"user","content":"x"}],"tool_choice":{{{choice}}},
             "tools":[{"type":"function","function":{"name":"lookup","description":"Looks things up"}}]}
            """);

        var tools = sent.ToolConfig!;
        Assert.Equal(kind, tools.ToolChoice!.Kind);
        Assert.Equal(name, tools.ToolChoice.Name);
        var tool = Assert.Single(tools.Tools);
        Assert.Equal("Looks things up", tool.Description);
        Assert.Equal("object", tool.InputSchema.GetProperty("type").GetString());
    }

    [Fact]
    public async Task ResponseFormat_JsonSchema_ReachesProviderWithSchema()
    {
        var sent = await SendAsync("""
            {"model":"scripted-model","messages":[{"role":"user","content":"x"}],
             "response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}}
            """);

        var format = sent.ResponseFormat!;
        Assert.Equal("json_schema", format.Type);
        Assert.Equal("answer", format.SchemaName);
        Assert.True(format.Strict);
        Assert.Equal("integer", format.Schema!.Value.GetProperty("properties").GetProperty("a").GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("""{"type":"json_object"}""", "json_object")]
    [InlineData("""{"type":"text"}""", null)]
    public async Task ResponseFormat_SimpleTypes_MapToNativeFormat(string format, string? expected)
    {
        var sent = await SendAsync($$"""{"model":"scripted-model","messages":[{"role":"user","content":"x"}],"response_format":{{format}}}""");
        Assert.Equal(expected, sent.ResponseFormat?.Type);
    }

    [Fact]
    public async Task SamplingFields_AllReachInferenceConfig()
    {
        var sent = await SendAsync("""
            {"model":"scripted-model","messages":[{"role":"user","content":"x"}],
             "max_tokens":50,"max_completion_tokens":70,"temperature":1.5,"top_p":0.9,"seed":42,"stop":["END","STOP"],
             "user":"u-17","metadata":{"team":"search"}}
            """);

        var inference = sent.InferenceConfig!;
        Assert.Equal(70, inference.MaxTokens);
        Assert.Equal(1.5f, inference.Temperature);
        Assert.Equal(0.9f, inference.TopP);
        Assert.Equal(42L, inference.Seed);
        Assert.Equal(["END", "STOP"], inference.StopSequences);
        Assert.Equal("search", sent.RequestMetadata!["team"]);
        Assert.Equal("u-17", sent.RequestMetadata["user"]);
    }

    [Fact]
    public async Task Stop_SingleString_BecomesOneStopSequence()
    {
        var sent = await SendAsync("""{"model":"scripted-model","messages":[{"role":"user","content":"x"}],"stop":"\n\n"}""");
        Assert.Equal(["\n\n"], sent.InferenceConfig!.StopSequences);
    }

    [Fact]
    public async Task UnknownFields_AreIgnoredAsOpenAiDoes()
    {
        var sent = await SendAsync("""
            {"future_field":{"deep":[1,2,{"x":null}]},"model":"scripted-model","logprobs":false,"parallel_tool_calls":true,
             "messages":[{"role":"user","name":"ann","content":"x","extra":1}],"frequency_penalty":0.1,"store":false}
            """);
        Assert.Equal("x", Assert.IsType<TextBlock>(Assert.Single(Assert.Single(sent.Messages).Content)).Text);
    }

    [Theory]
    [InlineData(StopReason.EndTurn, "stop")]
    [InlineData(StopReason.StopSequence, "stop")]
    [InlineData(StopReason.MaxTokens, "length")]
    [InlineData(StopReason.ToolUse, "tool_calls")]
    [InlineData(StopReason.GuardrailIntervened, "content_filter")]
    [InlineData(StopReason.ContentFiltered, "content_filter")]
    public async Task Response_StopReason_MapsToFinishReason(StopReason reason, string finishReason)
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock("done")]),
            StopReason = reason,
            Usage = new TokenUsage(1, 1),
        };
        using var client = server.CreateClient();

        var (_, body) = await OpenAiHttp.PostChatAsync(client, """{"model":"scripted-model","messages":[{"role":"user","content":"x"}]}""");

        Assert.Equal(finishReason, body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Response_CachedTokens_CountInPromptTokensAndDetails()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new TextBlock("ok")]),
            StopReason = StopReason.EndTurn,
            Usage = new TokenUsage(InputTokens: 10, OutputTokens: 5, CacheReadInputTokens: 20, CacheWriteInputTokens: 3),
        };
        using var client = server.CreateClient();

        var (_, body) = await OpenAiHttp.PostChatAsync(client, """{"model":"scripted-model","messages":[{"role":"user","content":"x"}]}""");

        var usage = body.GetProperty("usage");
        Assert.Equal(33, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(38, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(20, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    [Fact]
    public async Task Response_TextAndToolCall_HasBothAndTheOpenAiShape()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant,
            [
                new TextBlock("Let me check. "),
                new ToolUseBlock("tooluse_9", "lookup", JsonDocument.Parse("""{"q":"ünïcode <tag>"}""").RootElement.Clone()),
            ]),
            StopReason = StopReason.ToolUse,
            Usage = new TokenUsage(4, 6),
        };
        using var client = server.CreateClient();

        var (status, body) = await OpenAiHttp.PostChatAsync(client, """
            {"model":"echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"lookup"}}]}
            """);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("echo", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("created").GetInt64() > 1_700_000_000);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        var message = choice.GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("Let me check. ", message.GetProperty("content").GetString());
        var call = message.GetProperty("tool_calls")[0];
        Assert.Equal("tooluse_9", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("lookup", call.GetProperty("function").GetProperty("name").GetString());
        var arguments = call.GetProperty("function").GetProperty("arguments");
        Assert.Equal(JsonValueKind.String, arguments.ValueKind);
        Assert.Equal("ünïcode <tag>", JsonDocument.Parse(arguments.GetString()!).RootElement.GetProperty("q").GetString());
    }

    [Fact]
    public async Task Response_OnlyToolCall_ContentIsNull()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ => new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new ToolUseBlock("t1", "lookup", JsonDocument.Parse("{}").RootElement.Clone())]),
            StopReason = StopReason.ToolUse,
            Usage = new TokenUsage(1, 1),
        };
        using var client = server.CreateClient();

        var (_, body) = await OpenAiHttp.PostChatAsync(client, """{"model":"scripted-model","messages":[{"role":"user","content":"x"}]}""");

        Assert.Equal(JsonValueKind.Null, body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").ValueKind);
    }
}
