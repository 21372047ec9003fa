using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Providers.Anthropic;

/// <summary>Translates the native request and response to and from Anthropic's Messages API.</summary>
internal static class AnthropicMapping
{
    /// <summary>max_tokens is required by the Messages API; used when the caller gave none.</summary>
    public const int DefaultMaxTokens = 4096;

    /// <summary>The Messages request body; <paramref name="forCounting"/> leaves out what count_tokens does not accept.</summary>
    public static JsonObject BuildRequest(ConverseRequest request, bool stream, bool forCounting = false)
    {
        var body = new JsonObject { ["model"] = request.ModelId };
        if (!forCounting)
            body["max_tokens"] = request.InferenceConfig?.MaxTokens ?? DefaultMaxTokens;

        var system = new JsonArray();
        foreach (var block in request.System)
        {
            switch (block)
            {
                case TextBlock t: system.Add(TextPart(t.Text)); break;
                case GuardContentBlock g: system.Add(TextPart(g.Text)); break;
                case CachePointBlock c: MarkCache(system, c); break;
            }
        }
        if (system.Count > 0)
            body["system"] = system;

        var messages = new JsonArray();
        foreach (var message in request.Messages)
        {
            var content = new JsonArray();
            foreach (var block in message.Content)
            {
                if (block is CachePointBlock c)
                    MarkCache(content, c);
                else if (ContentPart(block) is { } part)
                    content.Add(part);
            }
            messages.Add(new JsonObject { ["role"] = message.Role == ConversationRole.User ? "user" : "assistant", ["content"] = content });
        }
        body["messages"] = messages;

        if (!forCounting && request.InferenceConfig is { } inference)
        {
            if (inference.Temperature is { } t) body["temperature"] = t;
            if (inference.TopP is { } p) body["top_p"] = p;
            if (inference.StopSequences is { Count: > 0 } stop) body["stop_sequences"] = new JsonArray([.. stop.Select(s => (JsonNode?)s)]);
        }
        if (request.ToolConfig is { Tools.Count: > 0 } tools)
        {
            body["tools"] = new JsonArray([.. tools.Tools.Select(t => (JsonNode?)new JsonObject
            {
                ["name"] = t.Name,
                ["description"] = t.Description,
                ["input_schema"] = JsonNode.Parse(t.InputSchema.GetRawText()),
            })]);
            if (tools.CachePoint is { } toolsCache)
                MarkCache((JsonArray)body["tools"]!, toolsCache);
            if (tools.ToolChoice is { } choice)
            {
                body["tool_choice"] = choice.Kind switch
                {
                    ToolChoiceKind.Any => new JsonObject { ["type"] = "any" },
                    ToolChoiceKind.None => new JsonObject { ["type"] = "none" },
                    ToolChoiceKind.Tool => new JsonObject { ["type"] = "tool", ["name"] = choice.Name },
                    _ => new JsonObject { ["type"] = "auto" },
                };
            }
        }
        if (stream)
            body["stream"] = true;
        // Anthropic-specific fields (thinking, top_k, metadata) pass through untouched.
        if (request.AdditionalModelRequestFields is { ValueKind: JsonValueKind.Object } extra)
            foreach (var property in extra.EnumerateObject())
                if (!forCounting || property.Name is "thinking")
                    body[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        return body;
    }

    /// <summary>Parses a Messages response into the native response.</summary>
    public static ConverseResponse ParseResponse(JsonElement root, string provider, long latencyMs)
    {
        if (!root.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            throw UpstreamError.Malformed(provider, "a message without content");
        var blocks = new List<ContentBlock>();
        foreach (var block in content.EnumerateArray())
        {
            switch (Str(block, "type"))
            {
                case "text":
                    blocks.Add(new TextBlock(Str(block, "text") ?? ""));
                    break;
                case "tool_use":
                    blocks.Add(new ToolUseBlock(Str(block, "id") ?? "", Str(block, "name") ?? "",
                        block.TryGetProperty("input", out var input) ? input.Clone() : JsonSerializer.SerializeToElement(new JsonObject())));
                    break;
                case "thinking":
                    blocks.Add(new ReasoningBlock(Str(block, "thinking") ?? "", Str(block, "signature")));
                    break;
                case "redacted_thinking":
                    blocks.Add(new ReasoningBlock(null, null, Encoding.UTF8.GetBytes(Str(block, "data") ?? "")));
                    break;
            }
        }
        return new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, blocks),
            StopReason = StopReasonOf(Str(root, "stop_reason")),
            Usage = root.TryGetProperty("usage", out var usage) ? ParseUsage(usage, null) : new TokenUsage(0, 0),
            LatencyMs = latencyMs,
        };
    }

    /// <summary>Maps Anthropic's stop_reason.</summary>
    public static StopReason StopReasonOf(string? value) => value switch
    {
        "max_tokens" => StopReason.MaxTokens,
        "stop_sequence" => StopReason.StopSequence,
        "tool_use" => StopReason.ToolUse,
        "refusal" => StopReason.ContentFiltered,
        "model_context_window_exceeded" => StopReason.ModelContextWindowExceeded,
        _ => StopReason.EndTurn,
    };

    /// <summary>Maps usage; Anthropic's input_tokens already excludes cache reads and writes, as Bedrock's does.
    /// Fields absent from <paramref name="usage"/> keep their value from <paramref name="previous"/>.</summary>
    public static TokenUsage ParseUsage(JsonElement usage, TokenUsage? previous)
    {
        var p = previous ?? new TokenUsage(0, 0);
        return new TokenUsage(
            IntOr(usage, "input_tokens", p.InputTokens),
            IntOr(usage, "output_tokens", p.OutputTokens),
            IntOr(usage, "cache_read_input_tokens", p.CacheReadInputTokens),
            IntOr(usage, "cache_creation_input_tokens", p.CacheWriteInputTokens));
    }

    /// <summary>The error kind of an Anthropic error type (HTTP bodies and streamed error events).</summary>
    public static ErrorKind ErrorKindOf(string? type) => type switch
    {
        "invalid_request_error" or "request_too_large" => ErrorKind.Validation,
        "authentication_error" or "permission_error" => ErrorKind.AccessDenied,
        "not_found_error" => ErrorKind.ResourceNotFound,
        "rate_limit_error" => ErrorKind.Throttling,
        "overloaded_error" => ErrorKind.ServiceUnavailable,
        _ => ErrorKind.ModelError,
    };

    private static JsonObject TextPart(string text) => new() { ["type"] = "text", ["text"] = text };

    // A cache point caches the prefix ending at the block before it.
    private static void MarkCache(JsonArray parts, CachePointBlock cachePoint)
    {
        if (parts.Count == 0 || parts[^1] is not JsonObject previous)
            throw BasaltException.Validation("A cachePoint must follow a content block: it marks the end of the prefix to cache.");
        var control = new JsonObject { ["type"] = "ephemeral" };
        if (cachePoint.Ttl is "1h")
            control["ttl"] = "1h";
        previous["cache_control"] = control;
    }

    private static JsonObject? ContentPart(ContentBlock block) => block switch
    {
        TextBlock t => TextPart(t.Text),
        GuardContentBlock g => TextPart(g.Text),
        ImageBlock i => ImagePart(i.Format, i.Bytes),
        DocumentBlock d => DocumentPart(d.Format, d.Name, d.Bytes),
        ToolUseBlock u => new JsonObject
        {
            ["type"] = "tool_use",
            ["id"] = u.ToolUseId,
            ["name"] = u.Name,
            ["input"] = JsonNode.Parse(u.Input.GetRawText()),
        },
        ToolResultBlock r => ToolResultPart(r),
        ReasoningBlock { RedactedContent: { } redacted } => new JsonObject { ["type"] = "redacted_thinking", ["data"] = Encoding.UTF8.GetString(redacted.Span) },
        ReasoningBlock r => new JsonObject { ["type"] = "thinking", ["thinking"] = r.Text ?? "", ["signature"] = r.Signature },
        _ => null,
    };

    private static JsonObject ImagePart(string format, ReadOnlyMemory<byte> bytes) => new()
    {
        ["type"] = "image",
        ["source"] = new JsonObject
        {
            ["type"] = "base64",
            ["media_type"] = "image/" + format,
            ["data"] = Convert.ToBase64String(bytes.Span),
        },
    };

    private static JsonObject DocumentPart(string format, string name, ReadOnlyMemory<byte> bytes) => format switch
    {
        "pdf" => new JsonObject
        {
            ["type"] = "document",
            ["source"] = new JsonObject { ["type"] = "base64", ["media_type"] = "application/pdf", ["data"] = Convert.ToBase64String(bytes.Span) },
            ["title"] = name,
        },
        "txt" or "md" or "csv" or "html" => new JsonObject
        {
            ["type"] = "document",
            ["source"] = new JsonObject { ["type"] = "text", ["media_type"] = "text/plain", ["data"] = Encoding.UTF8.GetString(bytes.Span) },
            ["title"] = name,
        },
        _ => throw BasaltException.Validation($"Anthropic accepts pdf, txt, md, csv and html documents, not '{format}'. Convert the document '{name}' first."),
    };

    private static JsonObject ToolResultPart(ToolResultBlock result)
    {
        var content = new JsonArray();
        foreach (var item in result.Content)
        {
            content.Add(item switch
            {
                ToolResultText t => TextPart(t.Text),
                ToolResultJson j => TextPart(j.Json.GetRawText()),
                ToolResultImage i => ImagePart(i.Format, i.Bytes),
                ToolResultDocument d => DocumentPart(d.Format, d.Name, d.Bytes),
                _ => throw new ArgumentOutOfRangeException(nameof(result)),
            });
        }
        var part = new JsonObject { ["type"] = "tool_result", ["tool_use_id"] = result.ToolUseId, ["content"] = content };
        if (result.Status == ToolResultStatus.Error)
            part["is_error"] = true;
        return part;
    }

    internal static string? Str(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int IntOr(JsonElement element, string name, int fallback)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : fallback;
}
