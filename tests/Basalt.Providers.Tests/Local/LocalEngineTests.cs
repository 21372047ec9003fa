using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers.Local;
using Basalt.Tests.Common;

namespace Basalt.Providers.Tests.Local;

/// <summary>The local provider over the real engine and the real stories260K model, greedy decoding.</summary>
public sealed class LocalEngineTests
{
    private static IConverseClient? CreateClient(int contextWindow = 256)
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return null;
        var entry = new ModelEntry { Id = "stories", Provider = "local", Path = path, ContextWindow = contextWindow };
        var factory = new LocalProviderFactory();
        return factory.Create(new ProviderContext("local", new ProviderConfig { Type = "local" }, [entry], new EmptyServices()));
    }

    private sealed class EmptyServices : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }

    private static ConverseRequest Ask(string text, int maxTokens = 40, IReadOnlyList<string>? stop = null) => new()
    {
        ModelId = "stories",
        Messages = [new Message(ConversationRole.User, [new TextBlock(text)])],
        InferenceConfig = new InferenceConfig { MaxTokens = maxTokens, Temperature = 0, StopSequences = stop },
    };

    private static string Text(ConverseResponse r) => string.Concat(r.Output.Content.OfType<TextBlock>().Select(t => t.Text));

    [Fact]
    public async Task ConverseAsync_Greedy_IsDeterministicAndCountsRealTokens()
    {
        using var client = CreateClient();
        if (client is null) return;
        var first = await client.ConverseAsync(Ask("Once upon a time"));
        var second = await client.ConverseAsync(Ask("Once upon a time"));
        Assert.False(string.IsNullOrWhiteSpace(Text(first)));
        Assert.Equal(Text(first), Text(second));
        Assert.Equal(await client.CountTokensAsync(Ask("Once upon a time")), first.Usage.InputTokens);
        Assert.InRange(first.Usage.OutputTokens, 1, 40);
    }

    [Fact]
    public async Task ConverseAsync_MaxTokens_StopsAfterExactlyThatMany()
    {
        using var client = CreateClient();
        if (client is null) return;
        var response = await client.ConverseAsync(Ask("Once upon a time", maxTokens: 5));
        Assert.Equal(StopReason.MaxTokens, response.StopReason);
        Assert.Equal(5, response.Usage.OutputTokens);
    }

    [Fact]
    public async Task ConverseAsync_StopSequenceFromTheGreedyText_CutsTheReplyBeforeIt()
    {
        using var client = CreateClient();
        if (client is null) return;
        var full = Text(await client.ConverseAsync(Ask("Once upon a time", maxTokens: 60)));
        var words = full.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length > 4, $"greedy text too short to pick a stop word: '{full}'");
        var stop = " " + words[3];
        var cut = await client.ConverseAsync(Ask("Once upon a time", maxTokens: 60, stop: [stop]));
        Assert.Equal(StopReason.StopSequence, cut.StopReason);
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], Text(cut));
    }

    [Fact]
    public async Task ConverseStreamAsync_Greedy_EqualsTheNonStreamedReply()
    {
        using var client = CreateClient();
        if (client is null) return;
        var streamed = new System.Text.StringBuilder();
        var deltas = 0;
        StopReason? reason = null;
        await foreach (var e in client.ConverseStreamAsync(Ask("The dog")))
        {
            if (e is ContentBlockDeltaEvent { Delta: TextDelta t }) { streamed.Append(t.Text); deltas++; }
            if (e is MessageStopEvent m) reason = m.StopReason;
        }
        var whole = await client.ConverseAsync(Ask("The dog"));
        Assert.Equal(Text(whole), streamed.ToString());
        Assert.Equal(whole.StopReason, reason);
        Assert.True(deltas > 1, "the reply should stream in several pieces");
    }

    [Fact]
    public async Task ConverseAsync_PromptLongerThanContext_ThrowsValidation()
    {
        using var client = CreateClient(contextWindow: 64);
        if (client is null) return;
        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Ask(string.Concat(Enumerable.Repeat("the little dog ran and ran. ", 40)))));
        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Contains("context window of 64 tokens", ex.Message);
    }

    [Fact]
    public async Task ConverseAsync_TwoRequestsAtOnce_GiveTheSameRepliesAsSequential()
    {
        using var client = CreateClient();
        if (client is null) return;
        var a = Text(await client.ConverseAsync(Ask("Lily had a ball")));
        var b = Text(await client.ConverseAsync(Ask("Tom saw a cat")));
        var both = await Task.WhenAll(client.ConverseAsync(Ask("Lily had a ball")), client.ConverseAsync(Ask("Tom saw a cat")));
        Assert.Equal(a, Text(both[0]));
        Assert.Equal(b, Text(both[1]));
    }
}
