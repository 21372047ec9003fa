namespace Basalt.Engine.Generation;

/// <summary>How to sample and when to stop. Defaults follow llama.cpp's.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;
    /// <summary>Softmax temperature; 0 or less means greedy (always the most likely token).</summary>
    public float Temperature { get; init; } = 0.8f;
    /// <summary>Keep only the K most likely tokens; 0 disables.</summary>
    public int TopK { get; init; } = 40;
    /// <summary>Keep the smallest set of tokens whose probabilities sum to at least P; 1 disables.</summary>
    public float TopP { get; init; } = 0.95f;
    /// <summary>Drop tokens less likely than MinP times the most likely one; 0 disables.</summary>
    public float MinP { get; init; } = 0.05f;
    /// <summary>Divides positive (multiplies negative) logits of tokens seen in the last <see cref="RepeatLastN"/>; 1 disables.</summary>
    public float RepetitionPenalty { get; init; } = 1f;
    /// <summary>How many recent tokens the penalties look at; -1 means the whole context.</summary>
    public int RepeatLastN { get; init; } = 64;
    /// <summary>Subtracted from a token's logit once per occurrence in the window.</summary>
    public float FrequencyPenalty { get; init; }
    /// <summary>Subtracted from a token's logit when it occurs in the window at all.</summary>
    public float PresencePenalty { get; init; }
    /// <summary>Random seed; the same seed and inputs give the same output. Null picks one at random.</summary>
    public ulong? Seed { get; init; }
    /// <summary>Stop when the generated text contains one of these; the output is cut before it.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxTokens < 0) throw new ArgumentException($"MaxTokens must be 0 or more, got {MaxTokens}.");
        if (float.IsNaN(Temperature) || Temperature < 0) throw new ArgumentException($"Temperature must be 0 or more, got {Temperature}.");
        if (TopK < 0) throw new ArgumentException($"TopK must be 0 or more, got {TopK}.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"TopP must be in (0, 1], got {TopP}.");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentException($"MinP must be in [0, 1], got {MinP}.");
        if (!(RepetitionPenalty > 0)) throw new ArgumentException($"RepetitionPenalty must be positive, got {RepetitionPenalty}.");
        if (RepeatLastN < -1) throw new ArgumentException($"RepeatLastN must be -1 (whole context) or more, got {RepeatLastN}.");
        foreach (var s in StopSequences)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("Stop sequences must not be empty.");
    }
}

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model produced an end-of-generation token.</summary>
    EndOfGeneration,
    /// <summary>MaxTokens were generated, or the context filled up.</summary>
    MaxTokens,
    /// <summary>The text reached a stop sequence.</summary>
    StopSequence,
    /// <summary>The caller cancelled (token or callback).</summary>
    Cancelled,
}

/// <summary>One generated token as streamed: its id and the newly completed text (possibly empty while a UTF-8 character or
/// a possible stop sequence is pending). Id is -1 for the final piece of text held back until the end.</summary>
public readonly record struct GeneratedToken(int Id, string Text);

/// <summary>The outcome of one generation.</summary>
public sealed record GenerationResult(
    string Text,
    int PromptTokens,
    int GeneratedTokens,
    FinishReason FinishReason,
    string? MatchedStopSequence)
{
    /// <summary>Prompt tokens whose keys and values were reused (from the previous generation on the same generator, or from the prefix cache).</summary>
    public int CachedPromptTokens { get; init; }
    /// <summary>Prompt tokens newly stored in the prefix cache under a cache point (they are not counted as cached).</summary>
    public int CacheWriteTokens { get; init; }
}

/// <summary>The prompt does not fit in the context window.</summary>
public sealed class ContextOverflowException(int tokens, int limit)
    : Exception($"The prompt is {tokens} tokens but the context holds {limit}; shorten the prompt or load the model with a longer context.")
{
    /// <summary>Tokens in the prompt.</summary>
    public int Tokens { get; } = tokens;
    /// <summary>The context length.</summary>
    public int Limit { get; } = limit;
}
