using System.Text.Json;
using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Engine.Templates;
using Basalt.Providers.Local;
using Basalt.Tests.Common;

namespace Basalt.Providers.Tests.Local;

/// <summary>cachePoint blocks mapped onto the prompt the chat template renders.</summary>
public sealed class CachePointTests
{
    private static ChatTemplate Template(string file)
        => ChatTemplate.Parse(File.ReadAllText(Path.Combine(SharedFiles.ProjectRoot, "tests", "Basalt.Engine.Tests", "Templates", "templates", file)));

    private const string SystemText = "You are a careful assistant. Answer in one sentence.";

    private static ConverseRequest Request(ToolConfig? tools = null) => new()
    {
        ModelId = "m",
        System = [new TextBlock(SystemText), new CachePointBlock()],
        Messages =
        [
            new Message(ConversationRole.User, [new TextBlock("What is basalt?"), new CachePointBlock("1h")]),
            new Message(ConversationRole.Assistant, [new TextBlock("A volcanic rock.")]),
            new Message(ConversationRole.User, [new TextBlock("And granite?")]),
        ],
        ToolConfig = tools,
    };

    [Theory]
    [InlineData("Qwen-Qwen2.5-7B-Instruct.jinja")]
    [InlineData("meta-llama-Llama-3.2-3B-Instruct.jinja")]
    [InlineData("SmolLM2-Instruct.jinja")]
    [InlineData("google-gemma-3-it.jinja")]
    public void CachePointOffsets_SystemAndMessagePoints_FallRightAfterTheirText(string file)
    {
        var template = Template(file);
        var request = Request();
        var rendered = LocalPrompt.Render(request, template, ToolCallFormat.Hermes, "<s>", "</s>");
        var offsets = LocalPrompt.CachePointOffsets(request, template, ToolCallFormat.Hermes, "<s>", "</s>", rendered);

        Assert.Equal(2, offsets.Count);
        Assert.EndsWith(SystemText, rendered[..offsets[0].Offset]);
        Assert.Equal(TimeSpan.FromMinutes(5), offsets[0].Ttl);
        Assert.EndsWith("What is basalt?", rendered[..offsets[1].Offset]);
        Assert.Equal(TimeSpan.FromHours(1), offsets[1].Ttl);
    }

    [Fact]
    public void CachePointOffsets_ToolsPoint_CoversThePromptBeforeTheSystemText()
    {
        var template = Template("meta-llama-Llama-3.2-3B-Instruct.jinja");
        var tools = new ToolConfig([new ToolSpecification("get_weather", "Get the weather",
            JsonDocument.Parse("""{"type": "object", "properties": {"city": {"type": "string"}}}""").RootElement)]) { CachePoint = new CachePointBlock() };
        var request = Request(tools) with { System = [new TextBlock(SystemText)] };
        var rendered = LocalPrompt.Render(request, template, ToolCallFormat.Llama3Json, "<s>", "</s>");
        var offsets = LocalPrompt.CachePointOffsets(request, template, ToolCallFormat.Llama3Json, "<s>", "</s>", rendered);

        var toolsPoint = Assert.Single(offsets, o => o.Ttl == TimeSpan.FromMinutes(5));
        Assert.StartsWith(SystemText, rendered[toolsPoint.Offset..]);
    }

    [Fact]
    public void CachePointOffsets_NoCachePoint_IsEmpty()
    {
        var template = Template("Qwen-Qwen2.5-7B-Instruct.jinja");
        var request = Request() with { System = [new TextBlock(SystemText)], Messages = [new Message(ConversationRole.User, [new TextBlock("Hi")])] };
        var rendered = LocalPrompt.Render(request, template, ToolCallFormat.Hermes, "<s>", "</s>");
        Assert.Empty(LocalPrompt.CachePointOffsets(request, template, ToolCallFormat.Hermes, "<s>", "</s>", rendered));
    }

    [Fact]
    public async Task ConverseAsync_ModelThatBatchesItself_RunsTwoRequestsAtOnce()
    {
        var gate = new ManualResetEventSlim(false);
        var model = new ScriptedLocalModel { Reply = "same answer", TokenGate = gate, RunsConcurrently = true };
        var store = new LocalModelStore(_ => model, new LocalProviderOptions(), sweepAutomatically: false);
        using var client = new LocalConverseClient("local", [new ModelEntry { Id = "tiny", Provider = "local", Path = "/m.gguf" }], store);
        ConverseRequest Ask() => new() { ModelId = "tiny", Messages = [new Message(ConversationRole.User, [new TextBlock("Hi")])] };
        var first = client.ConverseAsync(Ask());
        var second = client.ConverseAsync(Ask());
        while (model.Generations < 2)
            await Task.Delay(10);
        gate.Set();
        await Task.WhenAll(first, second);
        Assert.Equal(2, model.MaxConcurrent);
    }

    [Theory]
    [InlineData("kvCacheType", "q4_0")]
    [InlineData("maxSequences", "0")]
    public void From_BadLocalSetting_ThrowsNamingIt(string setting, string value)
    {
        var config = setting == "kvCacheType"
            ? new ProviderConfig { Type = "local", KvCacheType = value }
            : new ProviderConfig { Type = "local", MaxSequences = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) };
        var e = Assert.Throws<InvalidDataException>(() => LocalProviderOptions.From(config));
        Assert.Contains(setting, e.Message);
    }
}
