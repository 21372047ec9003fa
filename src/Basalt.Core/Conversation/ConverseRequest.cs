using System.Text.Json;

namespace Basalt.Core.Conversation;

/// <summary>The role of a message's author.</summary>
public enum ConversationRole
{
    /// <summary>The caller.</summary>
    User,
    /// <summary>The model.</summary>
    Assistant,
}

/// <summary>One turn of the conversation.</summary>
public sealed record Message(ConversationRole Role, IReadOnlyList<ContentBlock> Content);

/// <summary>The native request every face translates into and every provider consumes (shaped like Bedrock Converse).</summary>
public sealed record ConverseRequest
{
    /// <summary>The model id or alias as the caller named it.</summary>
    public required string ModelId { get; init; }

    /// <summary>The conversation so far, oldest first.</summary>
    public IReadOnlyList<Message> Messages { get; init; } = [];

    /// <summary>System prompt blocks: <see cref="TextBlock"/>, <see cref="CachePointBlock"/> or <see cref="GuardContentBlock"/>.</summary>
    public IReadOnlyList<ContentBlock> System { get; init; } = [];

    /// <summary>Sampling and length settings.</summary>
    public InferenceConfig? InferenceConfig { get; init; }

    /// <summary>Tools the model may call.</summary>
    public ToolConfig? ToolConfig { get; init; }

    /// <summary>Provider-specific fields passed through untouched (a JSON object), or null.</summary>
    public JsonElement? AdditionalModelRequestFields { get; init; }

    /// <summary>JSON pointer paths of extra response fields to return.</summary>
    public IReadOnlyList<string>? AdditionalModelResponseFieldPaths { get; init; }

    /// <summary>Latency tier requested.</summary>
    public PerformanceConfig? PerformanceConfig { get; init; }

    /// <summary>Caller's metadata, recorded with usage; never sent to the model.</summary>
    public IReadOnlyDictionary<string, string>? RequestMetadata { get; init; }

    /// <summary>Guardrail to apply, if any.</summary>
    public GuardrailConfig? GuardrailConfig { get; init; }

    /// <summary>Structured output requested by the caller (OpenAI response_format), passed to providers that support it.</summary>
    public ResponseFormat? ResponseFormat { get; init; }
}

/// <summary>Sampling and length settings.</summary>
public sealed record InferenceConfig
{
    /// <summary>Maximum number of tokens to generate.</summary>
    public int? MaxTokens { get; init; }
    /// <summary>Sampling temperature, 0 for greedy.</summary>
    public float? Temperature { get; init; }
    /// <summary>Nucleus sampling mass.</summary>
    public float? TopP { get; init; }
    /// <summary>Sequences that end generation when produced.</summary>
    public IReadOnlyList<string>? StopSequences { get; init; }
    /// <summary>Random seed (an extension used by the OpenAI face and local engine).</summary>
    public long? Seed { get; init; }
}

/// <summary>Tools and how the model must choose among them.</summary>
public sealed record ToolConfig(IReadOnlyList<ToolSpecification> Tools, ToolChoice? ToolChoice = null)
{
    /// <summary>A cache point after the tool definitions (Bedrock's tools[].cachePoint), or null: providers that cache
    /// prompts cache the tool list up to its last tool.</summary>
    public CachePointBlock? CachePoint { get; init; }
}

/// <summary>A tool: its name, description and JSON schema of its input.</summary>
public sealed record ToolSpecification(string Name, string? Description, JsonElement InputSchema);

/// <summary>How the model must use tools: auto, any, or one named tool.</summary>
public sealed record ToolChoice(ToolChoiceKind Kind, string? Name = null)
{
    /// <summary>The model decides.</summary>
    public static readonly ToolChoice Auto = new(ToolChoiceKind.Auto);
    /// <summary>The model must call some tool.</summary>
    public static readonly ToolChoice Any = new(ToolChoiceKind.Any);
}

/// <summary>The kind of tool choice.</summary>
public enum ToolChoiceKind
{
    /// <summary>The model decides.</summary>
    Auto,
    /// <summary>The model must call some tool.</summary>
    Any,
    /// <summary>The model must call the named tool.</summary>
    Tool,
    /// <summary>The model must not call tools (OpenAI "none").</summary>
    None,
}

/// <summary>Requested latency tier.</summary>
public sealed record PerformanceConfig(string Latency);

/// <summary>A guardrail reference on a request.</summary>
public sealed record GuardrailConfig(string GuardrailIdentifier, string GuardrailVersion, string? Trace = null, string? StreamProcessingMode = null);

/// <summary>Structured output request: "text", "json_object", or "json_schema" with a schema.</summary>
public sealed record ResponseFormat(string Type, string? SchemaName = null, JsonElement? Schema = null, bool Strict = false);
