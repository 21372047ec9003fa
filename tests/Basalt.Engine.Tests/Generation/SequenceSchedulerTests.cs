using System.Collections.Concurrent;
using Basalt.Engine.Generation;
using Basalt.Engine.Models;
using Basalt.Tests.Common;

namespace Basalt.Engine.Tests.Generation;

/// <summary>Continuous batching over the real stories260K model: batching and prefix cache hits change no output.</summary>
public sealed class SequenceSchedulerTests
{
    private static readonly GenerationOptions Greedy = new() { Temperature = 0 };

    private static LanguageModel? Stories()
    {
        var path = SharedFiles.Path("models/stories260K.gguf");
        return path is null ? null : LanguageModel.Load(path, new ModelLoadOptions { Threads = 2 });
    }

    private static readonly string[] Prompts =
    [
        "Once upon a time, there was a dog named Max",
        "Lily went to the park",
        "The sun was shining and the birds",
        "Tom had a big red ball",
        "One day, a little girl found a box",
        "The cat sat on the mat and",
    ];

    private static string Sequential(LanguageModel model, int[] prompt, GenerationOptions options)
        => model.CreateGenerator().Generate(prompt, options).Text;

    /// <summary>A prompt of about <paramref name="tokens"/> tokens: a shared story start and a distinct question.</summary>
    private static int[] LongPrompt(LanguageModel model, string question, int repeat = 12)
        => model.Tokenizer.Encode(string.Concat(Enumerable.Repeat("Once upon a time, there was a little girl named Lily. ", repeat)) + question);

    [Fact]
    public async Task Submit_ConcurrentGreedyRequests_GiveTheSameTextAsSequentialOnes()
    {
        using var model = Stories();
        if (model is null) return;
        var prompts = Prompts.Select(p => model.Tokenizer.Encode(p)).ToArray();
        var options = prompts.Select((_, i) => Greedy with { MaxTokens = 30 + 7 * i, StopSequences = i == 2 ? ["birds"] : [] }).ToArray();
        var expected = prompts.Select((p, i) => Sequential(model, p, options[i])).ToArray();

        using var scheduler = model.CreateScheduler(new SchedulerOptions { MaxSequences = 8 });
        var streamed = prompts.Select(_ => new System.Text.StringBuilder()).ToArray();
        var tasks = prompts.Select((p, i) => scheduler.Submit(new SequenceRequest { Prompt = p, Options = options[i] },
            t => { streamed[i].Append(t.Text); return true; })).ToArray();
        var results = await Task.WhenAll(tasks);

        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], results[i].Text);
            Assert.Equal(results[i].Text, streamed[i].ToString());
        }
        Assert.Equal(FinishReason.MaxTokens, results[0].FinishReason);
        Assert.Equal(30, results[0].GeneratedTokens);
    }

    [Fact]
    public async Task Submit_PrefixCacheHit_GivesIdenticalOutputWithTheSameSeed()
    {
        using var model = Stories();
        if (model is null) return;
        var sampled = new GenerationOptions { Temperature = 0.9f, Seed = 1234, MaxTokens = 40 };
        var prompt = LongPrompt(model, "One day she");
        var uncached = Sequential(model, prompt, sampled);

        using var scheduler = model.CreateScheduler();
        var cold = await scheduler.Submit(new SequenceRequest { Prompt = prompt, Options = sampled });
        var warm = await scheduler.Submit(new SequenceRequest { Prompt = prompt, Options = sampled });
        var other = LongPrompt(model, "Then a dog");
        var shared = await scheduler.Submit(new SequenceRequest { Prompt = other, Options = sampled });

        Assert.Equal(0, cold.CachedPromptTokens);
        Assert.Equal((prompt.Length - 1) / PrefixCache.DefaultBlockTokens * PrefixCache.DefaultBlockTokens, warm.CachedPromptTokens);
        Assert.True(warm.CachedPromptTokens > 100, $"cached {warm.CachedPromptTokens} of {prompt.Length}");
        Assert.Equal(uncached, cold.Text);
        Assert.Equal(uncached, warm.Text);
        // A different question after the same long start reuses the shared blocks, and still matches its uncached run.
        Assert.True(shared.CachedPromptTokens > 100, $"cached {shared.CachedPromptTokens} of {other.Length}");
        Assert.Equal(Sequential(model, other, sampled), shared.Text);
    }

    [Fact]
    public async Task Submit_CachePoint_ReportsTheWriteOnceAndTheReadAfter()
    {
        using var model = Stories();
        if (model is null) return;
        var prompt = LongPrompt(model, "One day she");
        var point = prompt.Length - 4;
        var request = new SequenceRequest { Prompt = prompt, Options = Greedy with { MaxTokens = 5 }, CachePoints = [new CachePoint(point, CachePoint.DefaultTtl)] };
        using var scheduler = model.CreateScheduler();
        var first = await scheduler.Submit(request);
        var second = await scheduler.Submit(request);
        var blocks = point / PrefixCache.DefaultBlockTokens * PrefixCache.DefaultBlockTokens;
        Assert.Equal((0, blocks), (first.CachedPromptTokens, first.CacheWriteTokens));
        Assert.Equal(0, second.CacheWriteTokens);
        Assert.True(second.CachedPromptTokens >= blocks);
        Assert.Equal(first.Text, second.Text);
    }

    [Fact]
    public async Task Submit_LatencyOptimized_IsAdmittedAheadOfStandardRequests()
    {
        using var model = Stories();
        if (model is null) return;
        using var scheduler = new SequenceScheduler(model, new SchedulerOptions { MaxSequences = 1 }, start: false);
        var order = new ConcurrentQueue<string>();
        Task<GenerationResult> Submit(string name, bool optimized) => scheduler.Submit(
            new SequenceRequest { Prompt = model.Tokenizer.Encode(name), Options = Greedy with { MaxTokens = 3 }, LatencyOptimized = optimized },
            _ => { if (!order.Contains(name)) order.Enqueue(name); return true; });
        var tasks = new[] { Submit("A", false), Submit("B", false), Submit("C", true), Submit("D", true) };
        scheduler.Start();
        await Task.WhenAll(tasks);
        Assert.Equal(["C", "D", "A", "B"], order.ToArray());
    }

    [Fact]
    public async Task Submit_LatencyOptimized_IsPrefilledFirstWhenBothRun()
    {
        using var model = Stories();
        if (model is null) return;
        using var scheduler = new SequenceScheduler(model, new SchedulerOptions { MaxSequences = 4 }, start: false);
        var firstTokens = new ConcurrentQueue<string>();
        Task<GenerationResult> Submit(string name, bool optimized) => scheduler.Submit(
            new SequenceRequest { Prompt = LongPrompt(model, name, repeat: 8), Options = Greedy with { MaxTokens = 2 }, LatencyOptimized = optimized },
            _ => { if (!firstTokens.Contains(name)) firstTokens.Enqueue(name); return true; });
        // Prompts over one step's tokens, so the standard one's prefill would finish first if it were not overtaken.
        var tasks = new[] { Submit("standard", false), Submit("optimized", true) };
        scheduler.Start();
        await Task.WhenAll(tasks);
        Assert.Equal("optimized", firstTokens.First());
    }

    [Fact]
    public void Submit_KvCacheLargerThanTheBudget_IsRefusedAsNeverFitting()
    {
        using var model = Stories();
        if (model is null) return;
        var perPosition = SequenceScheduler.KvBytesPerToken(model.Config, model.KvCacheType);
        using var scheduler = model.CreateScheduler(new SchedulerOptions { MemoryBudgetBytes = model.WeightBytes + 100 * perPosition });
        var request = new SequenceRequest { Prompt = model.Tokenizer.Encode("Once upon a time"), Options = Greedy with { MaxTokens = 200 } };
        var e = Assert.Throws<SequenceMemoryException>(() => { _ = scheduler.Submit(request); });
        Assert.True(e.NeverFits);
        Assert.Contains("memory budget", e.Message);
    }

    [Fact]
    public async Task Submit_BudgetForOneSequence_RunsThemOneAfterTheOtherWithTheSameText()
    {
        using var model = Stories();
        if (model is null) return;
        var perPosition = SequenceScheduler.KvBytesPerToken(model.Config, model.KvCacheType);
        var options = new SchedulerOptions { MemoryBudgetBytes = model.WeightBytes + 60 * perPosition, PrefixCacheBytes = 0 };
        using var scheduler = new SequenceScheduler(model, options, start: false);
        var events = new ConcurrentQueue<int>();
        var prompts = new[] { model.Tokenizer.Encode(Prompts[0]), model.Tokenizer.Encode(Prompts[1]) };
        var tasks = prompts.Select((p, i) => scheduler.Submit(new SequenceRequest { Prompt = p, Options = Greedy with { MaxTokens = 30 } },
            _ => { events.Enqueue(i); return true; })).ToArray();
        scheduler.Start();
        var results = await Task.WhenAll(tasks);
        var sequence = events.ToArray();
        Assert.Equal(sequence.OrderBy(i => i), sequence); // every token of the first before any of the second
        Assert.Equal(Sequential(model, prompts[0], Greedy with { MaxTokens = 30 }), results[0].Text);
        Assert.Equal(Sequential(model, prompts[1], Greedy with { MaxTokens = 30 }), results[1].Text);
    }

    [Fact]
    public async Task Submit_OneOfTwoCancelled_TheOtherFinishesWithItsOwnText()
    {
        using var model = Stories();
        if (model is null) return;
        using var scheduler = model.CreateScheduler();
        using var cts = new CancellationTokenSource();
        var options = Greedy with { MaxTokens = 60 };
        var seen = 0;
        var cancelled = scheduler.Submit(new SequenceRequest { Prompt = model.Tokenizer.Encode(Prompts[0]), Options = options },
            _ => { if (++seen == 3) cts.Cancel(); return true; }, cts.Token);
        var kept = scheduler.Submit(new SequenceRequest { Prompt = model.Tokenizer.Encode(Prompts[1]), Options = options });
        var (a, b) = (await cancelled, await kept);
        Assert.Equal(FinishReason.Cancelled, a.FinishReason);
        Assert.InRange(a.GeneratedTokens, 3, 4);
        Assert.Equal(Sequential(model, model.Tokenizer.Encode(Prompts[1]), options), b.Text);
    }
}
