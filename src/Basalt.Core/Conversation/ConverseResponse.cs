using System.Text.Json;

namespace Basalt.Core.Conversation;

/// <summary>Why the model stopped: every Bedrock stopReason.</summary>
public enum StopReason
{
    /// <summary>The model finished its turn.</summary>
    EndTurn,
    /// <summary>The model wants to call a tool.</summary>
    ToolUse,
    /// <summary>The token limit was reached.</summary>
    MaxTokens,
    /// <summary>A stop sequence was produced.</summary>
    StopSequence,
    /// <summary>A guardrail intervened.</summary>
    GuardrailIntervened,
    /// <summary>Content was filtered by the provider.</summary>
    ContentFiltered,
    /// <summary>The model's context window was exceeded.</summary>
    ModelContextWindowExceeded,
}

/// <summary>Wire names of <see cref="StopReason"/> as Bedrock spells them.</summary>
public static class StopReasons
{
    /// <summary>Bedrock's snake_case name of a stop reason.</summary>
    public static string ToWire(StopReason reason) => reason switch
    {
        StopReason.EndTurn => "end_turn",
        StopReason.ToolUse => "tool_use",
        StopReason.MaxTokens => "max_tokens",
        StopReason.StopSequence => "stop_sequence",
        StopReason.GuardrailIntervened => "guardrail_intervened",
        StopReason.ContentFiltered => "content_filtered",
        StopReason.ModelContextWindowExceeded => "model_context_window_exceeded",
        _ => throw new ArgumentOutOfRangeException(nameof(reason)),
    };

    /// <summary>Parses Bedrock's name of a stop reason; unknown names map to end_turn.</summary>
    public static StopReason FromWire(string? value) => value switch
    {
        "tool_use" => StopReason.ToolUse,
        "max_tokens" => StopReason.MaxTokens,
        "stop_sequence" => StopReason.StopSequence,
        "guardrail_intervened" => StopReason.GuardrailIntervened,
        "content_filtered" => StopReason.ContentFiltered,
        "model_context_window_exceeded" => StopReason.ModelContextWindowExceeded,
        _ => StopReason.EndTurn,
    };
}

/// <summary>Token counts of one call, counted the way Bedrock counts them: input excludes cached tokens.</summary>
public sealed record TokenUsage(int InputTokens, int OutputTokens, int CacheReadInputTokens = 0, int CacheWriteInputTokens = 0)
{
    /// <summary>Input plus output plus cache reads and writes.</summary>
    public int TotalTokens => InputTokens + OutputTokens + CacheReadInputTokens + CacheWriteInputTokens;
}

/// <summary>The native response of a non-streamed call.</summary>
public sealed record ConverseResponse
{
    /// <summary>The assistant message produced.</summary>
    public required Message Output { get; init; }
    /// <summary>Why generation stopped.</summary>
    public required StopReason StopReason { get; init; }
    /// <summary>Token counts.</summary>
    public required TokenUsage Usage { get; init; }
    /// <summary>Latency measured by the provider, in milliseconds.</summary>
    public long LatencyMs { get; init; }
    /// <summary>Provider-specific extra fields requested through additionalModelResponseFieldPaths.</summary>
    public JsonElement? AdditionalModelResponseFields { get; init; }
    /// <summary>The latency tier that served the request.</summary>
    public PerformanceConfig? PerformanceConfig { get; init; }
    /// <summary>Trace information (guardrail assessments, prompt router), as a JSON object.</summary>
    public JsonElement? Trace { get; init; }
}
