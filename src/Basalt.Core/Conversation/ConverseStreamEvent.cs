using System.Text.Json;

namespace Basalt.Core.Conversation;

/// <summary>One event of a streamed response, in Bedrock ConverseStream order:
/// MessageStart, then per block ContentBlockStart? / ContentBlockDelta* / ContentBlockStop, then MessageStop, then Metadata.</summary>
public abstract record ConverseStreamEvent;

/// <summary>The assistant message begins.</summary>
public sealed record MessageStartEvent(ConversationRole Role) : ConverseStreamEvent;

/// <summary>A content block begins; only tool-use blocks carry a start payload (text blocks may start with a delta).</summary>
public sealed record ContentBlockStartEvent(int ContentBlockIndex, string ToolUseId, string ToolName) : ConverseStreamEvent;

/// <summary>A piece of a content block.</summary>
public sealed record ContentBlockDeltaEvent(int ContentBlockIndex, ContentDelta Delta) : ConverseStreamEvent;

/// <summary>A content block ends.</summary>
public sealed record ContentBlockStopEvent(int ContentBlockIndex) : ConverseStreamEvent;

/// <summary>The assistant message ends.</summary>
public sealed record MessageStopEvent(StopReason StopReason, JsonElement? AdditionalModelResponseFields = null) : ConverseStreamEvent;

/// <summary>Usage and latency of the whole stream; last event.</summary>
public sealed record MetadataEvent(TokenUsage Usage, long LatencyMs, JsonElement? Trace = null, PerformanceConfig? PerformanceConfig = null) : ConverseStreamEvent;

/// <summary>The payload of a content block delta.</summary>
public abstract record ContentDelta;

/// <summary>More text.</summary>
public sealed record TextDelta(string Text) : ContentDelta;

/// <summary>More of a tool call's JSON input, as a raw string fragment.</summary>
public sealed record ToolUseDelta(string InputJsonFragment) : ContentDelta;

/// <summary>More reasoning text, or its signature.</summary>
public sealed record ReasoningDelta(string? Text, string? Signature = null) : ContentDelta;
