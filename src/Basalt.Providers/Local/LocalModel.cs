namespace Basalt.Providers.Local;

/// <summary>What the local provider needs from a loaded model: its tokenizer, chat template and a way to run
/// one sequence. <see cref="EngineLocalModel"/> adapts Basalt.Engine's LanguageModel; tests use a hand-written fake.</summary>
internal interface ILocalModel : IDisposable
{
    /// <summary>tokenizer.chat_template, or null when the file has none.</summary>
    string? ChatTemplate { get; }

    /// <summary>Context window in tokens.</summary>
    int ContextLength { get; }

    /// <summary>Bytes of weights (the memory budget's unit).</summary>
    long WeightBytes { get; }

    /// <summary>Why the weights are held in a slower way than usual (read from the file's mapping because copying them would not fit in
    /// memory), or null; logged as a warning when the model loads.</summary>
    string? LoadWarning => null;

    /// <summary>Text of the BOS token, passed to templates as bos_token.</summary>
    string BosText { get; }

    /// <summary>Text of the EOS token, passed to templates as eos_token.</summary>
    string EosText { get; }

    /// <summary>Tokenizes a rendered prompt, parsing special-token text; adds BOS per the file's flags when asked.</summary>
    int[] Tokenize(string text, bool addSpecial);

    /// <summary>True when the model runs concurrent generations itself (the engine's scheduler batches them); false makes the
    /// store hand it to one request at a time.</summary>
    bool RunsConcurrently => false;

    /// <summary>Runs one generation on a fresh sequence (its own run state and KV cache).</summary>
    LocalGenerationResult Generate(int[] prompt, LocalSampling sampling, Func<int, string, bool> onToken, CancellationToken cancellationToken);
}

/// <summary>Sampling settings of one request (null: the engine's default).</summary>
internal sealed record LocalSampling
{
    public int MaxTokens { get; init; }
    /// <summary>Context the sequence is allocated with (the catalog's contextWindow capped by the model's).</summary>
    public int ContextLength { get; init; }
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? RepetitionPenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? PresencePenalty { get; init; }
    public long? Seed { get; init; }
    /// <summary>performanceConfig.latency = optimized: scheduled ahead of standard requests.</summary>
    public bool LatencyOptimized { get; init; }
    /// <summary>Prompt prefixes to keep cached, from the request's cachePoint blocks.</summary>
    public IReadOnlyList<Basalt.Engine.Generation.CachePoint> CachePoints { get; init; } = [];
}

/// <summary>Why the engine stopped.</summary>
internal enum LocalFinish
{
    EndOfGeneration,
    MaxTokens,
    /// <summary>The callback asked to stop (a stop sequence matched, or the caller cancelled).</summary>
    Stopped,
}

/// <summary>Outcome of one generation.</summary>
internal sealed record LocalGenerationResult(int PromptTokens, int GeneratedTokens, LocalFinish Finish)
{
    /// <summary>Prompt tokens read from the prefix cache.</summary>
    public int CacheReadTokens { get; init; }
    /// <summary>Prompt tokens written to the prefix cache under a cache point.</summary>
    public int CacheWriteTokens { get; init; }
}
