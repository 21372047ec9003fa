using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Providers.Local;
using Basalt.Tests.Common;

namespace Basalt.Providers.Tests.Local;

public sealed class ReasoningSplitterTests
{
    [Theory]
    [InlineData("<think>\nPlan it.\n</think>\n\nAnswer.", false, "Plan it.\n", "Answer.")]
    [InlineData("Plan.</think>\n\nAnswer", true, "Plan.", "Answer")]
    [InlineData("Hello <think> there", false, "", "Hello <think> there")]
    [InlineData("<think>\nstill thinking", false, "still thinking", "")]
    [InlineData("<thin", false, "", "<thin")]
    [InlineData("  <think>a</think>b", false, "a", "b")]
    public void Push_AnyChunking_SplitsReasoningFromAnswer(string output, bool startsInReasoning, string reasoning, string answer)
    {
        for (var chunk = 1; chunk <= 5; chunk++)
        {
            var splitter = new ReasoningSplitter(startsInReasoning);
            string r = "", t = "";
            for (var i = 0; i < output.Length; i += chunk)
            {
                var (pr, pt) = splitter.Push(output.Substring(i, Math.Min(chunk, output.Length - i)));
                r += pr;
                t += pt;
            }
            var (fr, ft) = splitter.Flush();
            Assert.Equal(reasoning, r + fr);
            Assert.Equal(answer, t + ft);
        }
    }

    private static LocalConverseClient Client(ScriptedLocalModel model)
        => new("local", [new ModelEntry { Id = "tiny", Provider = "local", Path = "/m.gguf" }],
            new LocalModelStore(_ => model, new LocalProviderOptions(), sweepAutomatically: false));

    private static string Qwen3 => File.ReadAllText(Path.Combine(SharedFiles.ProjectRoot, "tests", "Basalt.Engine.Tests", "Templates", "templates", "Qwen-Qwen3-0.6B.jinja"));

    private static ConverseRequest Ask() => new() { ModelId = "tiny", Messages = [new Message(ConversationRole.User, [new TextBlock("Hi")])] };

    [Fact]
    public async Task ConverseAsync_ThinkingModelReply_ReturnsReasoningBlockThenText()
    {
        using var client = Client(new ScriptedLocalModel { ChatTemplate = Qwen3, Reply = "<think>\nLet me think.\n</think>\n\nHello!", CharsPerToken = 2 });
        var response = await client.ConverseAsync(Ask());
        Assert.Equal("Let me think.\n", Assert.IsType<ReasoningBlock>(response.Output.Content[0]).Text);
        Assert.Equal("Hello!", Assert.IsType<TextBlock>(response.Output.Content[1]).Text);
    }

    [Fact]
    public async Task ConverseStreamAsync_ThinkingModelReply_StreamsReasoningBlockBeforeTextBlock()
    {
        using var client = Client(new ScriptedLocalModel { ChatTemplate = Qwen3, Reply = "<think>\nHmm.\n</think>\n\nYes.", CharsPerToken = 1 });
        var events = new List<ConverseStreamEvent>();
        await foreach (var e in client.ConverseStreamAsync(Ask()))
            events.Add(e);
        var blocks = events.Where(e => e is ContentBlockDeltaEvent or ContentBlockStopEvent).ToList();
        var firstStop = blocks.FindIndex(e => e is ContentBlockStopEvent);
        Assert.All(blocks.Take(firstStop), e => Assert.IsType<ReasoningDelta>(((ContentBlockDeltaEvent)e).Delta));
        Assert.Equal(0, ((ContentBlockStopEvent)blocks[firstStop]).ContentBlockIndex);
        Assert.All(blocks.Skip(firstStop + 1).OfType<ContentBlockDeltaEvent>(), d => Assert.Equal(1, d.ContentBlockIndex));
        Assert.Equal("Yes.", string.Concat(blocks.OfType<ContentBlockDeltaEvent>().Select(d => d.Delta).OfType<TextDelta>().Select(t => t.Text)));
    }

    [Fact]
    public async Task ConverseAsync_ModelWithoutThinkingTemplate_KeepsThinkTagsAsText()
    {
        using var client = Client(new ScriptedLocalModel { Reply = "<think>x</think>y" });
        var response = await client.ConverseAsync(Ask());
        Assert.Equal("<think>x</think>y", Assert.IsType<TextBlock>(Assert.Single(response.Output.Content)).Text);
    }
}
