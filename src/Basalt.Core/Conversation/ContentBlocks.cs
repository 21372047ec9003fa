using System.Text.Json;

namespace Basalt.Core.Conversation;

/// <summary>One block of a message's content: the native union of Converse's ContentBlock members.</summary>
public abstract record ContentBlock;

/// <summary>Plain text.</summary>
public sealed record TextBlock(string Text) : ContentBlock;

/// <summary>An image given as raw bytes; <see cref="Format"/> is png, jpeg, gif or webp.</summary>
public sealed record ImageBlock(string Format, ReadOnlyMemory<byte> Bytes) : ContentBlock;

/// <summary>A document (pdf, csv, doc, docx, xls, xlsx, html, txt, md) given as raw bytes.</summary>
public sealed record DocumentBlock(string Format, string Name, ReadOnlyMemory<byte> Bytes) : ContentBlock;

/// <summary>A tool call requested by the model; <see cref="Input"/> is the JSON arguments object.</summary>
public sealed record ToolUseBlock(string ToolUseId, string Name, JsonElement Input) : ContentBlock;

/// <summary>The result of a tool call, sent back by the caller.</summary>
public sealed record ToolResultBlock(string ToolUseId, IReadOnlyList<ToolResultContent> Content, ToolResultStatus? Status = null) : ContentBlock;

/// <summary>Marks the end of a prompt prefix to cache; <see cref="Ttl"/> is "5m" (default) or "1h".</summary>
public sealed record CachePointBlock(string? Ttl = null) : ContentBlock;

/// <summary>Text that a guardrail should evaluate, with optional qualifiers (grounding_source, query, guard_content).</summary>
public sealed record GuardContentBlock(string Text, IReadOnlyList<string>? Qualifiers = null) : ContentBlock;

/// <summary>The model's reasoning: either text with an optional signature, or redacted opaque bytes.</summary>
public sealed record ReasoningBlock(string? Text, string? Signature = null, ReadOnlyMemory<byte>? RedactedContent = null) : ContentBlock;

/// <summary>Status of a tool result.</summary>
public enum ToolResultStatus
{
    /// <summary>The tool succeeded.</summary>
    Success,
    /// <summary>The tool failed; the content describes the error.</summary>
    Error,
}

/// <summary>One item of a tool result: text, JSON, an image or a document.</summary>
public abstract record ToolResultContent;

/// <summary>Text returned by a tool.</summary>
public sealed record ToolResultText(string Text) : ToolResultContent;

/// <summary>A JSON value returned by a tool.</summary>
public sealed record ToolResultJson(JsonElement Json) : ToolResultContent;

/// <summary>An image returned by a tool.</summary>
public sealed record ToolResultImage(string Format, ReadOnlyMemory<byte> Bytes) : ToolResultContent;

/// <summary>A document returned by a tool.</summary>
public sealed record ToolResultDocument(string Format, string Name, ReadOnlyMemory<byte> Bytes) : ToolResultContent;
