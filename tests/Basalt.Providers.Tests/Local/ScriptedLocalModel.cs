using Basalt.Providers.Local;

namespace Basalt.Providers.Tests.Local;

/// <summary>A hand-written fake engine model: one token per character, and a scripted reply generated a few
/// characters per token. It records what it was asked and how many generations ran at once.</summary>
internal sealed class ScriptedLocalModel : ILocalModel
{
    private int _running;

    public string? ChatTemplate { get; init; }
    public int ContextLength { get; init; } = 4096;
    public long WeightBytes { get; init; } = 1024;
    public string? LoadWarning { get; init; }
    public string BosText => "<s>";
    public string EosText => "</s>";
    public string Reply { get; set; } = "Hello there";
    public int CharsPerToken { get; init; } = 3;
    /// <summary>Whether the store may hand it to several requests at once (as the engine's scheduler allows).</summary>
    public bool RunsConcurrently { get; init; }

    /// <summary>When set, each token waits for it (lets tests hold a generation open).</summary>
    public ManualResetEventSlim? TokenGate { get; set; }

    public string? LastPrompt { get; private set; }
    public LocalSampling? LastSampling { get; private set; }
    public int MaxConcurrent { get; private set; }
    public int Generations { get; private set; }
    public bool Disposed { get; private set; }

    public int[] Tokenize(string text, bool addSpecial)
    {
        var ids = new List<int>();
        if (addSpecial) ids.Add(1);
        foreach (var c in text) ids.Add(c);
        return [.. ids];
    }

    public LocalGenerationResult Generate(int[] prompt, LocalSampling sampling, Func<int, string, bool> onToken, CancellationToken cancellationToken)
    {
        var running = Interlocked.Increment(ref _running);
        lock (this)
        {
            MaxConcurrent = Math.Max(MaxConcurrent, running);
            Generations++;
        }
        try
        {
            LastPrompt = new string(Array.ConvertAll(prompt[1..], i => (char)i));
            LastSampling = sampling;
            var generated = 0;
            for (var pos = 0; pos < Reply.Length; pos += CharsPerToken)
            {
                if (generated == sampling.MaxTokens)
                    return new LocalGenerationResult(prompt.Length, generated, LocalFinish.MaxTokens);
                TokenGate?.Wait(cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
                generated++;
                if (!onToken(generated, Reply.Substring(pos, Math.Min(CharsPerToken, Reply.Length - pos))))
                    return new LocalGenerationResult(prompt.Length, generated, LocalFinish.Stopped);
            }
            return new LocalGenerationResult(prompt.Length, generated + 1, LocalFinish.EndOfGeneration); // + the EOS token
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    public void Dispose() => Disposed = true;
}

/// <summary>A clock the tests move by hand.</summary>
internal sealed class ManualTime : TimeProvider
{
    public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => Now;
}
