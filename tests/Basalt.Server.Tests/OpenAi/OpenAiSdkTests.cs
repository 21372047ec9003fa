using System.ClientModel;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Server.Tests.Fakes;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;

namespace Basalt.Server.Tests.OpenAi;

/// <summary>The official OpenAI .NET SDK as the client: wire compatibility as an app would see it.</summary>
public sealed class OpenAiSdkTests
{
    private static OpenAIClientOptions Options(RunningServer server) => new() { Endpoint = new Uri(server.BaseAddress, "v1"), NetworkTimeout = TimeSpan.FromSeconds(30) };

    private static ChatClient Chat(RunningServer server, string model = "scripted-model")
        => new(model, new ApiKeyCredential(server.ApiKey), Options(server));

    private static readonly ChatTool WeatherTool = ChatTool.CreateFunctionTool(
        "get_weather", "Current weather of a city",
        BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));

    [Fact]
    public async Task CompleteChat_SystemAndUser_ReturnsProviderTextAndUsage()
    {
        await using var server = await RunningServer.StartAsync();
        var client = Chat(server);

        ChatCompletion completion = await client.CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("hello there")],
            new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0.5f });

        Assert.Equal("echo: hello there", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal("scripted-model", completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal(2, completion.Usage.InputTokenCount);
        Assert.Equal(3, completion.Usage.OutputTokenCount);
        Assert.Equal(5, completion.Usage.TotalTokenCount);
        var sent = Assert.Single(server.Provider.Requests);
        Assert.Equal("Be brief.", Assert.IsType<TextBlock>(Assert.Single(sent.System)).Text);
        Assert.Equal(20, sent.InferenceConfig?.MaxTokens);
        Assert.Equal(0.5f, sent.InferenceConfig?.Temperature);
    }

    [Fact]
    public async Task CompleteChat_Alias_ModelIsEchoedAsNamed()
    {
        await using var server = await RunningServer.StartAsync();
        ChatCompletion completion = await Chat(server, "echo").CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("echo", completion.Model);
    }

    [Fact]
    public async Task CompleteChatStreaming_WithUsage_AssemblesTextFinishAndUsage()
    {
        await using var server = await RunningServer.StartAsync();
        var client = Chat(server);

        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("stream me please")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
                text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal("echo: stream me please", text.ToString());
        Assert.True(updates > 3, $"expected word-by-word chunks, got {updates} updates");
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(3, usage.InputTokenCount);
        Assert.Equal(4, usage.OutputTokenCount);
    }

    [Fact]
    public async Task CompleteChat_ToolRoundTrip_CallThenResultReachesProvider()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = WeatherScript;
        var client = Chat(server, "scripted-tools");
        var options = new ChatCompletionOptions { Tools = { WeatherTool }, ToolChoice = ChatToolChoice.CreateAutoChoice() };
        List<ChatMessage> messages = [new UserChatMessage("Weather in Paris?")];

        ChatCompletion first = await client.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("tooluse_1", call.Id);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments.ToString()).RootElement.GetProperty("city").GetString());

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, """{"sky":"sunny"}"""));
        ChatCompletion second = await client.CompleteChatAsync(messages, options);

        Assert.Equal("The weather in Paris is sunny.", second.Content[0].Text);
        var sent = server.Provider.Requests[1];
        Assert.Equal(3, sent.Messages.Count);
        var use = Assert.IsType<ToolUseBlock>(Assert.Single(sent.Messages[1].Content));
        Assert.Equal("Paris", use.Input.GetProperty("city").GetString());
        var result = Assert.IsType<ToolResultBlock>(Assert.Single(sent.Messages[2].Content));
        Assert.Equal("tooluse_1", result.ToolUseId);
        Assert.Equal("""{"sky":"sunny"}""", Assert.IsType<ToolResultText>(Assert.Single(result.Content)).Text);
        var tool = Assert.Single(sent.ToolConfig!.Tools);
        Assert.Equal("get_weather", tool.Name);
        Assert.Equal(ToolChoiceKind.Auto, sent.ToolConfig.ToolChoice?.Kind);
    }

    [Fact]
    public async Task CompleteChatStreaming_ToolCall_DeltasAssembleIntoTheCall()
    {
        await using var server = await RunningServer.StartAsync();
        server.Provider.Reply = WeatherScript;
        var client = Chat(server, "scripted-tools");

        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Weather?")], new ChatCompletionOptions { Tools = { WeatherTool } }))
        {
            foreach (var tc in update.ToolCallUpdates)
            {
                Assert.Equal(0, tc.Index);
                id ??= tc.ToolCallId;
                name ??= tc.FunctionName;
                if (tc.FunctionArgumentsUpdate is not null)
                    arguments.Append(tc.FunctionArgumentsUpdate.ToString());
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal("tooluse_1", id);
        Assert.Equal("get_weather", name);
        Assert.Equal("Paris", JsonDocument.Parse(arguments.ToString()).RootElement.GetProperty("city").GetString());
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
    }

    [Fact]
    public async Task CompleteChat_UnknownModel_ThrowsWith404()
    {
        await using var server = await RunningServer.StartAsync();
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(server, "no-such-model").CompleteChatAsync([new UserChatMessage("x")]));
        Assert.Equal(404, e.Status);
        Assert.Contains("no-such-model", e.Message);
    }

    [Fact]
    public async Task Models_ListAndRetrieve_ShowTheCatalog()
    {
        await using var server = await RunningServer.StartAsync();
        var models = new OpenAIModelClient(new ApiKeyCredential(server.ApiKey), Options(server));

        OpenAIModelCollection list = await models.GetModelsAsync();
        OpenAIModel one = await models.GetModelAsync("scripted-model");

        Assert.Equal(["scripted-model", "scripted-tools"], list.Select(m => m.Id).ToArray());
        Assert.Equal("scripted-model", one.Id);
        Assert.Equal("Basalt", one.OwnedBy);
    }

    /// <summary>Calls get_weather for a user turn; answers from the tool result once there is one.</summary>
    private static ConverseResponse WeatherScript(ConverseRequest request)
    {
        var last = request.Messages[^1];
        if (last.Content.Any(b => b is ToolResultBlock))
        {
            return new ConverseResponse
            {
                Output = new Message(ConversationRole.Assistant, [new TextBlock("The weather in Paris is sunny.")]),
                StopReason = StopReason.EndTurn,
                Usage = new TokenUsage(12, 7),
            };
        }
        return new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, [new ToolUseBlock("tooluse_1", "get_weather", JsonDocument.Parse("""{"city":"Paris"}""").RootElement.Clone())]),
            StopReason = StopReason.ToolUse,
            Usage = new TokenUsage(10, 5),
        };
    }
}
