using Basalt.Core.Catalog;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;
using Basalt.Providers.Local;
using Basalt.Tests.Common;

namespace Basalt.Providers.Tests.Local;

/// <summary>The local provider over the real engine and the real stories260K model, greedy decoding.</summary>
public sealed class LocalEngineTests
{
    private static IConverseClient? CreateClient(int contextWindow = 256, ProviderConfig? config = null)
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        if (path is null)
            return null;
        var entry = new ModelEntry { Id = "stories", Provider = "local", Path = path, ContextWindow = contextWindow };
        var factory = new LocalProviderFactory();
        return factory.Create(new ProviderContext("local", config ?? new ProviderConfig { Type = "local" }, [entry], new EmptyServices()));
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

    private static readonly string LongSystem = string.Concat(Enumerable.Repeat("Once upon a time, there was a little girl named Lily. ", 10));

    private static ConverseRequest WithCachedSystem(string question, string? ttl = null, float temperature = 0.9f) => new()
    {
        ModelId = "stories",
        System = [new TextBlock(LongSystem), new CachePointBlock(ttl)],
        Messages = [new Message(ConversationRole.User, [new TextBlock(question)])],
        InferenceConfig = new InferenceConfig { MaxTokens = 30, Temperature = temperature, Seed = 7 },
    };

    [Fact]
    public async Task ConverseAsync_CachePointOnTheSystemPrompt_WritesThenReadsItAndTheReplyIsUnchanged()
    {
        using var client = CreateClient(contextWindow: 512);
        if (client is null) return;
        var total = await client.CountTokensAsync(WithCachedSystem("One day she"));
        var first = await client.ConverseAsync(WithCachedSystem("One day she"));
        var second = await client.ConverseAsync(WithCachedSystem("One day she"));

        Assert.Equal(0, first.Usage.CacheReadInputTokens);
        Assert.True(first.Usage.CacheWriteInputTokens > 100, $"wrote {first.Usage.CacheWriteInputTokens} of {total}");
        Assert.Equal(total, first.Usage.InputTokens + first.Usage.CacheWriteInputTokens);
        Assert.Equal(0, second.Usage.CacheWriteInputTokens);
        Assert.True(second.Usage.CacheReadInputTokens >= first.Usage.CacheWriteInputTokens);
        Assert.Equal(total, second.Usage.InputTokens + second.Usage.CacheReadInputTokens);
        Assert.Equal(Text(first), Text(second));
    }

    [Fact]
    public async Task ConverseAsync_SharedPrefixWithoutCachePoint_IsReusedAndReportedAsCacheRead()
    {
        using var client = CreateClient(contextWindow: 512);
        if (client is null) return;
        var uncached = await client.ConverseAsync(WithCachedSystem("One day she") with { System = [new TextBlock(LongSystem)] });
        var again = await client.ConverseAsync(WithCachedSystem("One day she") with { System = [new TextBlock(LongSystem)] });
        Assert.Equal(0, uncached.Usage.CacheWriteInputTokens);
        Assert.True(again.Usage.CacheReadInputTokens > 100);
        Assert.Equal(Text(uncached), Text(again));
    }

    [Fact]
    public async Task ConverseAsync_ManyRequestsAtOnce_GiveTheSameRepliesAsSequential()
    {
        using var client = CreateClient();
        if (client is null) return;
        string[] questions = ["Lily had a ball", "Tom saw a cat", "The sun was hot", "A bird sang"];
        var sequential = new List<string>();
        foreach (var q in questions)
            sequential.Add(Text(await client.ConverseAsync(Ask(q))));
        var concurrent = await Task.WhenAll(questions.Select(q => client.ConverseAsync(Ask(q))));
        Assert.Equal(sequential, concurrent.Select(Text));
    }

    [Fact]
    public async Task ConverseAsync_KvCacheBeyondTheModelMemoryBudget_ThrowsValidationNamingTheBudget()
    {
        using var client = CreateClient(contextWindow: 512, config: new ProviderConfig { Type = "local", ModelMemoryMb = 1 });
        if (client is null) return;
        var ex = await Assert.ThrowsAsync<BasaltException>(() => client.ConverseAsync(Ask("Once upon a time", maxTokens: 400)));
        Assert.Equal(ErrorKind.Validation, ex.Kind);
        Assert.Contains("memory budget", ex.Message);
    }

    [Fact]
    public async Task ConverseStreamAsync_LatencyOptimized_ReportsItInTheMetadata()
    {
        using var client = CreateClient();
        if (client is null) return;
        PerformanceConfig? reported = null;
        await foreach (var e in client.ConverseStreamAsync(Ask("The dog") with { PerformanceConfig = new PerformanceConfig("optimized") }))
            if (e is MetadataEvent m) reported = m.PerformanceConfig;
        Assert.Equal("optimized", reported?.Latency);
        var response = await client.ConverseAsync(Ask("The dog") with { PerformanceConfig = new PerformanceConfig("optimized") });
        Assert.Equal("optimized", response.PerformanceConfig?.Latency);
    }
}
