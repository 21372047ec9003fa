using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;
using static Basalt.Server.Tests.Bedrock.BedrockHttp;

namespace Basalt.Server.Tests.Bedrock;

public sealed class ConverseTests
{
    [Fact]
    public async Task Converse_TextMessage_ReturnsBedrockResponseShape()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-model/converse", """
            {"messages":[{"role":"user","content":[{"text":"hello there"}]}],
             "system":[{"text":"be brief"}],
             "inferenceConfig":{"maxTokens":64,"temperature":0.5,"topP":0.9,"stopSequences":["END"]}}
            """);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var message = body.GetProperty("output").GetProperty("message");
        Assert.Equal("assistant", message.GetProperty("role").GetString());
        Assert.Equal("echo: hello there", message.GetProperty("content")[0].GetProperty("text").GetString());
        Assert.Equal("end_turn", body.GetProperty("stopReason").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(2, usage.GetProperty("inputTokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("outputTokens").GetInt32());
        Assert.Equal(5, usage.GetProperty("totalTokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("cacheReadInputTokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("cacheWriteInputTokens").GetInt32());
        Assert.Equal(1, body.GetProperty("metrics").GetProperty("latencyMs").GetInt64());

        var seen = Assert.Single(server.Provider.Requests);
        Assert.Equal("scripted-model", seen.ModelId);
        Assert.Equal("be brief", Assert.IsType<TextBlock>(Assert.Single(seen.System)).Text);
        Assert.Equal(64, seen.InferenceConfig!.MaxTokens);
        Assert.Equal(0.5f, seen.InferenceConfig.Temperature);
        Assert.Equal(0.9f, seen.InferenceConfig.TopP);
        Assert.Equal(["END"], seen.InferenceConfig.StopSequences!);
    }

    [Fact]
    public async Task Converse_UrlEncodedArnModelId_ResolvesTheModel()
    {
        await using var server = await RunningServer.StartAsync(c => c with
        {
            Models = [.. c.Models, new Basalt.Core.Catalog.ModelEntry { Id = "arn:aws:bedrock:us-east-1::foundation-model/scripted.v1:0", Provider = "fake" }],
        });
        using var client = server.CreateClient();
        var encoded = Uri.EscapeDataString("arn:aws:bedrock:us-east-1::foundation-model/scripted.v1:0");
        var (response, body) = await PostAsync(client, $"/model/{encoded}/converse", """{"messages":[{"role":"user","content":[{"text":"arn"}]}]}""");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("echo: arn", body.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task Converse_Alias_ResolvesToTheModel()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, _) = await PostAsync(client, "/model/echo/converse", """{"messages":[{"role":"user","content":[{"text":"x"}]}]}""");
        Assert.Equal(200, (int)response.StatusCode);
    }

    [Fact]
    public async Task Converse_EveryContentBlockType_ReachesTheProviderTranslated()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        // The guardrail must exist: guardrails are enforced in the pipeline (an unknown one is a 404).
        var gr1 = await Basalt.Server.Tests.Guardrails.GuardrailControlPlaneTests.CreateAsync(client, Basalt.Server.Tests.Guardrails.GuardrailControlPlaneTests.Minimal);
        var png = Convert.ToBase64String([137, 80, 78, 71]);
        var (response, _) = await PostAsync(client, "/model/scripted-tools/converse", """
            {"messages":[
              {"role":"user","content":[
                {"text":"look"},
                {"image":{"format":"png","source":{"bytes":"@PNG"}}},
                {"document":{"format":"txt","name":"notes","source":{"bytes":"@ABC"}}},
                {"cachePoint":{"type":"default","ttl":"1h"}},
                {"guardContent":{"text":{"text":"check me","qualifiers":["query"]}}}]},
              {"role":"assistant","content":[
                {"reasoningContent":{"reasoningText":{"text":"thinking","signature":"sig"}}},
                {"toolUse":{"toolUseId":"t1","name":"get_weather","input":{"city":"Paris"}}}]},
              {"role":"user","content":[
                {"toolResult":{"toolUseId":"t1","status":"error","content":[{"text":"boom"},{"json":{"sky":"grey"}}]}},
                {"text":"and now?"}]}],
             "toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","description":"weather","inputSchema":{"json":{"type":"object"}}}}],
                           "toolChoice":{"tool":{"name":"get_weather"}}},
             "additionalModelRequestFields":{"top_k":5},
             "additionalModelResponseFieldPaths":["/stop_sequence"],
             "performanceConfig":{"latency":"optimized"},
             "requestMetadata":{"team":"search"},
             "guardrailConfig":{"guardrailIdentifier":"gr1","guardrailVersion":"DRAFT","trace":"enabled"},
             "promptVariables":{"x":{"text":"ignored"}}}
            """.Replace("@PNG", png).Replace("@ABC", Convert.ToBase64String("abc"u8.ToArray())).Replace("\"gr1\"", "\"" + gr1 + "\"", StringComparison.Ordinal));
        Assert.Equal(200, (int)response.StatusCode);
        var r = Assert.Single(server.Provider.Requests);
        var first = r.Messages[0].Content;
        Assert.Equal("look", Assert.IsType<TextBlock>(first[0]).Text);
        var image = Assert.IsType<ImageBlock>(first[1]);
        Assert.Equal("png", image.Format);
        Assert.Equal(new byte[] { 137, 80, 78, 71 }, image.Bytes.ToArray());
        var doc = Assert.IsType<DocumentBlock>(first[2]);
        Assert.Equal(("txt", "notes", "abc"), (doc.Format, doc.Name, System.Text.Encoding.UTF8.GetString(doc.Bytes.Span)));
        Assert.Equal("1h", Assert.IsType<CachePointBlock>(first[3]).Ttl);
        var guard = Assert.IsType<GuardContentBlock>(first[4]);
        Assert.Equal("check me", guard.Text);
        Assert.Equal(["query"], guard.Qualifiers!);
        var reasoning = Assert.IsType<ReasoningBlock>(r.Messages[1].Content[0]);
        Assert.Equal(("thinking", "sig"), (reasoning.Text, reasoning.Signature));
        var use = Assert.IsType<ToolUseBlock>(r.Messages[1].Content[1]);
        Assert.Equal("Paris", use.Input.GetProperty("city").GetString());
        var result = Assert.IsType<ToolResultBlock>(r.Messages[2].Content[0]);
        Assert.Equal(ToolResultStatus.Error, result.Status);
        Assert.Equal("boom", Assert.IsType<ToolResultText>(result.Content[0]).Text);
        Assert.Equal("grey", Assert.IsType<ToolResultJson>(result.Content[1]).Json.GetProperty("sky").GetString());
        Assert.Equal(ToolChoiceKind.Tool, r.ToolConfig!.ToolChoice!.Kind);
        Assert.Equal("get_weather", r.ToolConfig.ToolChoice.Name);
        Assert.Equal("object", r.ToolConfig.Tools[0].InputSchema.GetProperty("type").GetString());
        Assert.Equal(5, r.AdditionalModelRequestFields!.Value.GetProperty("top_k").GetInt32());
        Assert.Equal(["/stop_sequence"], r.AdditionalModelResponseFieldPaths!);
        Assert.Equal("optimized", r.PerformanceConfig!.Latency);
        Assert.Equal("search", r.RequestMetadata!["team"]);
        Assert.Equal((gr1, "DRAFT", "enabled"), (r.GuardrailConfig!.GuardrailIdentifier, r.GuardrailConfig.GuardrailVersion, r.GuardrailConfig.Trace));
    }

    [Theory]
    [InlineData("""{"auto":{}}""", ToolChoiceKind.Auto)]
    [InlineData("""{"any":{}}""", ToolChoiceKind.Any)]
    public async Task Converse_ToolChoice_IsTranslated(string choice, ToolChoiceKind expected)
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.CreateClient();
        var (response, _) = await PostAsync(client, "/model/scripted-tools/converse", """
            {"messages":[{"role":"user","content":[{"text":"x"}]}],
             "toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":@CHOICE}}
            """.Replace("@CHOICE", choice));
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(expected, Assert.Single(server.Provider.Requests).ToolConfig!.ToolChoice!.Kind);
    }

    [Fact]
    public async Task Converse_ModelCallsTool_ReturnsToolUseAndFullResponse()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = _ =>
        {
            using var input = JsonDocument.Parse("""{"city":"Paris"}""");
            using var trace = JsonDocument.Parse("""{"guardrail":{"modelOutput":["ok"]}}""");
            using var extra = JsonDocument.Parse("""{"stop_sequence":null}""");
            return new ConverseResponse
            {
                Output = new Message(ConversationRole.Assistant, [new TextBlock("Checking."), new ToolUseBlock("tool-1", "get_weather", input.RootElement.Clone()), new ReasoningBlock("hmm", "s1")]),
                StopReason = StopReason.ToolUse,
                Usage = new TokenUsage(10, 5, CacheReadInputTokens: 3, CacheWriteInputTokens: 2),
                LatencyMs = 42,
                PerformanceConfig = new PerformanceConfig("optimized"),
                Trace = trace.RootElement.Clone(),
                AdditionalModelResponseFields = extra.RootElement.Clone(),
            };
        };
        using var client = server.CreateClient();
        var (response, body) = await PostAsync(client, "/model/scripted-tools/converse", """{"messages":[{"role":"user","content":[{"text":"weather?"}]}]}""");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("tool_use", body.GetProperty("stopReason").GetString());
        var content = body.GetProperty("output").GetProperty("message").GetProperty("content");
        Assert.Equal("Checking.", content[0].GetProperty("text").GetString());
        var use = content[1].GetProperty("toolUse");
        Assert.Equal("tool-1", use.GetProperty("toolUseId").GetString());
        Assert.Equal("get_weather", use.GetProperty("name").GetString());
        Assert.Equal("Paris", use.GetProperty("input").GetProperty("city").GetString());
        Assert.Equal("hmm", content[2].GetProperty("reasoningContent").GetProperty("reasoningText").GetProperty("text").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(20, usage.GetProperty("totalTokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("cacheReadInputTokens").GetInt32());
        Assert.Equal(2, usage.GetProperty("cacheWriteInputTokens").GetInt32());
        Assert.Equal(42, body.GetProperty("metrics").GetProperty("latencyMs").GetInt64());
        Assert.Equal("optimized", body.GetProperty("performanceConfig").GetProperty("latency").GetString());
        Assert.Equal("ok", body.GetProperty("trace").GetProperty("guardrail").GetProperty("modelOutput")[0].GetString());
        Assert.True(body.GetProperty("additionalModelResponseFields").TryGetProperty("stop_sequence", out _));
    }
}

public sealed class ConverseSigV4Tests
{
    [Fact]
    public async Task Converse_SigV4SignedWithEncodedArnModelId_IsServed()
    {
        const string arn = "arn:aws:bedrock:us-east-1::foundation-model/scripted.v1:0";
        await using var server = await RunningServer.StartAsync(c => c with
        {
            Models = [.. c.Models, new Basalt.Core.Catalog.ModelEntry { Id = arn, Provider = "fake" }],
        });
        using var client = server.CreateSigV4Client();
        var (response, body) = await PostAsync(client, $"/model/{Uri.EscapeDataString(arn)}/converse", """{"messages":[{"role":"user","content":[{"text":"signed"}]}]}""");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("echo: signed", body.GetProperty("output").GetProperty("message").GetProperty("content")[0].GetProperty("text").GetString());
    }
}
