using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Providers.Local;
using Basalt.Tests.Common;

namespace Basalt.Providers.Tests.Local;

public sealed class LocalConverseClientTests
{
    private static string TemplateText(string file)
        => File.ReadAllText(Path.Combine(SharedFiles.ProjectRoot, "tests", "Basalt.Engine.Tests", "Templates", "templates", file));

    private static (LocalConverseClient Client, ScriptedLocalModel Model) Create(ScriptedLocalModel model, int contextWindow = 4096)
    {
        var store = new LocalModelStore(_ => model, new LocalProviderOptions(), sweepAutomatically: false);
        var entry = new ModelEntry { Id = "tiny", Provider = "local", Path = "/models/tiny.gguf", ContextWindow = contextWindow };
        return (new LocalConverseClient("local", [entry], store), model);
    }

    private static ConverseRequest Ask(string text, InferenceConfig? config = null) => new()
    {
        ModelId = "tiny",
        Messages = [new Message(ConversationRole.User, [new TextBlock(text)])],
        InferenceConfig = config,
    };

    private static readonly ToolConfig WeatherTools = new([
        new ToolSpecification("get_weather", "Get the weather",
            JsonDocument.Parse("""{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}""").RootElement),
    ]);

    [Fact]
    public async Task ConverseAsync_PlainReply_ReturnsTextEndTurnAndRealTokenCounts()
    {
        var (client, model) = Create(new ScriptedLocalModel { Reply = "Hello there" });
        var response = await client.ConverseAsync(Ask("Hi"));
        Assert.Equal("Hello there", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
        Assert.Equal(StopReason.EndTurn, response.StopReason);
        Assert.Equal("user: Hi\nassistant:", model.LastPrompt);
        Assert.Equal(1 + "user: Hi\nassistant:".Length, response.Usage.InputTokens);
        Assert.Equal(5, response.Usage.OutputTokens); // 4 pieces of at most 3 characters, then EOS
    }

    [Fact]
    public async Task ConverseAsync_MaxTokens_StopsWithMaxTokens()
    {
        var (client, _) = Create(new ScriptedLocalModel { Reply = "abcdefghijkl" });
        var response = await client.ConverseAsync(Ask("Hi", new InferenceConfig { MaxTokens = 2 }));
        Assert.Equal("abcdef", ((TextBlock)response.Output.Content[0]).Text);
        Assert.Equal(StopReason.MaxTokens, response.StopReason);
        Assert.Equal(2, response.Usage.OutputTokens);
    }

    [Fact]
    public async Task ConverseAsync_StopSequenceAcrossTokens_TruncatesBeforeIt()
    {
        var (client, _) = Create(new ScriptedLocalModel { Reply = "one two END three" });
        var response = await client.ConverseAsync(Ask("Hi", new InferenceConfig { StopSequences = ["END"] }));
        Assert.Equal("one two ", ((TextBlock)response.Output.Content[0]).Text);
        Assert.Equal(StopReason.StopSequence, response.StopReason);
    }

    [Fact]
    public async Task ConverseStreamAsync_PlainReply_EventsInBedrockOrderAndSameTextAsNonStreamed()
    {
        var (client, _) = Create(new ScriptedLocalModel { Reply = "Once upon a time" });
        var events = new List<ConverseStreamEvent>();
        await foreach (var e in client.ConverseStreamAsync(Ask("Hi", new InferenceConfig { StopSequences = ["time"] })))
            events.Add(e);
        Assert.IsType<MessageStartEvent>(events[0]);
        Assert.IsType<MetadataEvent>(events[^1]);
        Assert.Equal(StopReason.StopSequence, Assert.IsType<MessageStopEvent>(events[^2]).StopReason);
        Assert.IsType<ContentBlockStopEvent>(events[^3]);
        var deltas = events.OfType<ContentBlockDeltaEvent>().Select(d => ((TextDelta)d.Delta).Text).ToList();
        Assert.True(deltas.Count > 1);
        var streamed = string.Concat(deltas);
        var response = await client.ConverseAsync(Ask("Hi", new InferenceConfig { StopSequences = ["time"] }));
        Assert.Equal("Once upon a ", streamed);
        Assert.Equal(streamed, ((TextBlock)response.Output.Content[0]).Text);
    }

    [Fact]
    public async Task ConverseAsync_HermesToolCall_ReturnsToolUseBlock()
    {
        var (client, model) = Create(new ScriptedLocalModel
        {
            ChatTemplate = TemplateText("Qwen-Qwen2.5-7B-Instruct.jinja"),
            Reply = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
        });
        var response = await client.ConverseAsync(Ask("Weather in Paris?") with { ToolConfig = WeatherTools });
        Assert.Equal(StopReason.ToolUse, response.StopReason);
        var use = Assert.IsType<ToolUseBlock>(Assert.Single(response.Output.Content));
        Assert.Equal("get_weather", use.Name);
        Assert.Equal("Paris", use.Input.GetProperty("city").GetString());
        Assert.StartsWith("tooluse_", use.ToolUseId);
        Assert.Contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"", model.LastPrompt);
    }

    [Fact]
    public async Task ConverseStreamAsync_ToolCallAfterText_StreamsTextButNeverTheCallMarkup()
    {
        var (client, _) = Create(new ScriptedLocalModel
        {
            ChatTemplate = TemplateText("Qwen-Qwen2.5-7B-Instruct.jinja"),
            Reply = "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
            CharsPerToken = 2,
        });
        var events = new List<ConverseStreamEvent>();
        await foreach (var e in client.ConverseStreamAsync(Ask("Weather?") with { ToolConfig = WeatherTools }))
            events.Add(e);
        var text = string.Concat(events.OfType<ContentBlockDeltaEvent>().Where(d => d.ContentBlockIndex == 0).Select(d => ((TextDelta)d.Delta).Text));
        Assert.Equal("Checking.\n", text);
        var start = Assert.Single(events.OfType<ContentBlockStartEvent>());
        Assert.Equal(1, start.ContentBlockIndex);
        Assert.Equal("get_weather", start.ToolName);
        var input = events.OfType<ContentBlockDeltaEvent>().Where(d => d.ContentBlockIndex == 1).Select(d => ((ToolUseDelta)d.Delta).InputJsonFragment);
        Assert.Equal("{\"city\": \"Oslo\"}", string.Concat(input));
        Assert.Equal(StopReason.ToolUse, events.OfType<MessageStopEvent>().Single().StopReason);
    }

    [Fact]
    public async Task ConverseAsync_ToolResultConversation_RendersToolTurnsThroughTheTemplate()
    {
        var (client, model) = Create(new ScriptedLocalModel { ChatTemplate = TemplateText("Qwen-Qwen2.5-7B-Instruct.jinja"), Reply = "It is 18 degrees." });
        var request = new ConverseRequest
        {
            ModelId = "tiny",
            System = [new TextBlock("Be brief.")],
            ToolConfig = WeatherTools,
            Messages =
            [
                new Message(ConversationRole.User, [new TextBlock("Weather in Paris?")]),
                new Message(ConversationRole.Assistant, [new ToolUseBlock("tooluse_1", "get_weather", JsonDocument.Parse("""{"city":"Paris"}""").RootElement)]),
                new Message(ConversationRole.User, [new ToolResultBlock("tooluse_1", [new ToolResultJson(JsonDocument.Parse("""{"temperature":18}""").RootElement)])]),
            ],
        };
        var response = await client.ConverseAsync(request);
        Assert.Equal("It is 18 degrees.", ((TextBlock)response.Output.Content[0]).Text);
        Assert.StartsWith("<|im_start|>system\nBe brief.\n\n# Tools", model.LastPrompt);
        Assert.EndsWith(
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
            + "<|im_start|>user\n<tool_response>\n{\"temperature\":18}\n</tool_response><|im_end|>\n<|im_start|>assistant\n",
            model.LastPrompt);
    }

    [Fact]
    public async Task ConverseAsync_PromptLongerThanContext_ThrowsValidationNamingBothSizes()
    {
        var (client, _) = Create(new ScriptedLocalModel(), contextWindow: 16);
        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Ask("This prompt is much longer than sixteen tokens")));
        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Contains("context window of 16 tokens", ex.Message);
        Assert.Contains($"The prompt is {1 + "user: This prompt is much longer than sixteen tokens\nassistant:".Length} tokens", ex.Message);
    }

    [Fact]
    public async Task ConverseAsync_MaxTokensBeyondContext_IsCappedToTheRoomLeft()
    {
        var (client, model) = Create(new ScriptedLocalModel { Reply = new string('x', 300) }, contextWindow: 40);
        var response = await client.ConverseAsync(Ask("Hi", new InferenceConfig { MaxTokens = 1000 }));
        Assert.Equal(40 - (1 + "user: Hi\nassistant:".Length), model.LastSampling!.MaxTokens);
        Assert.Equal(StopReason.MaxTokens, response.StopReason);
    }

    [Fact]
    public async Task ConverseAsync_TemplateRejectsConversation_ThrowsValidationWithTheTemplatesReason()
    {
        var (client, _) = Create(new ScriptedLocalModel { ChatTemplate = TemplateText("google-gemma-2-2b-it.jinja") });
        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Ask("Hi") with { System = [new TextBlock("sys")] }));
        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Equal("The model's chat template rejected the conversation: System role not supported", ex.Message);
    }

    [Fact]
    public async Task ConverseAsync_ImageBlock_ThrowsValidation()
    {
        var (client, _) = Create(new ScriptedLocalModel());
        var request = new ConverseRequest { ModelId = "tiny", Messages = [new Message(ConversationRole.User, [new ImageBlock("png", new byte[] { 1 })])] };
        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(request));
        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Contains("text only", ex.Message);
    }

    [Fact]
    public async Task ConverseAsync_UnknownModel_ThrowsNotFound()
    {
        var (client, _) = Create(new ScriptedLocalModel());
        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Ask("Hi") with { ModelId = "nope" }));
        Assert.Equal(ErrorKind.ResourceNotFound, ex.Kind);
    }

    [Fact]
    public async Task CountTokensAsync_Request_EqualsTheInputTokensOfAConverse()
    {
        var (client, _) = Create(new ScriptedLocalModel());
        var count = await client.CountTokensAsync(Ask("How many?"));
        var response = await client.ConverseAsync(Ask("How many?"));
        Assert.Equal(response.Usage.InputTokens, count);
    }

    [Fact]
    public async Task ConverseAsync_AdditionalFields_MapToSamplingAndTemplateVariables()
    {
        var (client, model) = Create(new ScriptedLocalModel { ChatTemplate = TemplateText("Qwen-Qwen3-0.6B.jinja") });
        var fields = JsonDocument.Parse("""{"top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1, "frequency_penalty": 0.5, "presence_penalty": 0.25, "chat_template_kwargs": {"enable_thinking": false}}""").RootElement;
        await client.ConverseAsync(Ask("Hi", new InferenceConfig { Temperature = 0.7f, TopP = 0.9f, Seed = 42 }) with { AdditionalModelRequestFields = fields });
        var s = model.LastSampling!;
        Assert.Equal((40, 0.05f, 1.1f, 0.5f, 0.25f, 0.7f, 0.9f, 42L), (s.TopK, s.MinP, s.RepetitionPenalty, s.FrequencyPenalty, s.PresencePenalty, s.Temperature, s.TopP, s.Seed));
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n", model.LastPrompt);
    }

    [Fact]
    public async Task ConverseAsync_TwoRequestsAtOnce_RunOneAfterTheOtherWithTheSameOutput()
    {
        var gate = new ManualResetEventSlim(false);
        var (client, model) = Create(new ScriptedLocalModel { Reply = "same answer", TokenGate = gate });
        var first = client.ConverseAsync(Ask("Hi"));
        var second = client.ConverseAsync(Ask("Hi"));
        await Task.Delay(50);
        gate.Set();
        var results = await Task.WhenAll(first, second);
        Assert.Equal(1, model.MaxConcurrent);
        Assert.Equal(2, model.Generations);
        Assert.All(results, r => Assert.Equal("same answer", ((TextBlock)r.Output.Content[0]).Text));
    }

    [Fact]
    public async Task ConverseStreamAsync_CallerCancels_StopsGenerationAndFreesTheModel()
    {
        var gate = new ManualResetEventSlim(false);
        var (client, model) = Create(new ScriptedLocalModel { Reply = "a long reply that never finishes", TokenGate = gate });
        using var cts = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in client.ConverseStreamAsync(Ask("Hi"), cts.Token)) { }
        });
        await Task.Delay(50);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        model.TokenGate = null;
        var next = await client.ConverseAsync(Ask("Hi"));
        Assert.Equal(StopReason.EndTurn, next.StopReason);
    }
}
