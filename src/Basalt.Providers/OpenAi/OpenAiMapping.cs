using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Providers.OpenAi;

/// <summary>Translates the native request and response to and from OpenAI's chat completions wire format.</summary>
internal static class OpenAiMapping
{
    /// <summary>The chat completions request body.</summary>
    public static JsonObject BuildRequest(ConverseRequest request, bool stream)
    {
        var messages = new JsonArray();
        var system = SystemText(request.System);
        if (system.Length > 0)
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        foreach (var message in request.Messages)
        {
            if (message.Role == ConversationRole.Assistant)
                messages.Add(AssistantMessage(message));
            else
                AddUserMessages(messages, message);
        }

        var body = new JsonObject { ["model"] = request.ModelId, ["messages"] = messages };
        if (request.InferenceConfig is { } inference)
        {
            if (inference.MaxTokens is { } max) body["max_tokens"] = max;
            if (inference.Temperature is { } t) body["temperature"] = t;
            if (inference.TopP is { } p) body["top_p"] = p;
            if (inference.Seed is { } seed) body["seed"] = seed;
            if (inference.StopSequences is { Count: > 0 } stop) body["stop"] = new JsonArray([.. stop.Select(s => (JsonNode?)s)]);
        }
        if (request.ToolConfig is { Tools.Count: > 0 } tools)
        {
            body["tools"] = new JsonArray([.. tools.Tools.Select(t => (JsonNode?)new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = t.Name,
                    ["description"] = t.Description,
                    ["parameters"] = JsonNode.Parse(t.InputSchema.GetRawText()),
                },
            })]);
            if (tools.ToolChoice is { } choice)
            {
                body["tool_choice"] = choice.Kind switch
                {
                    ToolChoiceKind.Any => "required",
                    ToolChoiceKind.None => "none",
                    ToolChoiceKind.Tool => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = choice.Name } },
                    _ => "auto",
                };
            }
        }
        if (request.ResponseFormat is { } format)
        {
            body["response_format"] = format.Type switch
            {
                "json_schema" => new JsonObject
                {
                    ["type"] = "json_schema",
                    ["json_schema"] = new JsonObject
                    {
                        ["name"] = format.SchemaName ?? "response",
                        ["schema"] = format.Schema is { } schema ? JsonNode.Parse(schema.GetRawText()) : new JsonObject(),
                        ["strict"] = format.Strict,
                    },
                },
                _ => new JsonObject { ["type"] = format.Type },
            };
        }
        if (stream)
        {
            body["stream"] = true;
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        }
        // Provider-specific fields (for example vLLM's top_k) pass through; they may override what was mapped above.
        if (request.AdditionalModelRequestFields is { ValueKind: JsonValueKind.Object } extra)
            foreach (var property in extra.EnumerateObject())
                body[property.Name] = JsonNode.Parse(property.Value.GetRawText());
        return body;
    }

    /// <summary>Parses a chat completion into the native response.</summary>
    public static ConverseResponse ParseResponse(JsonElement root, string provider, long latencyMs)
    {
        if (!root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
            throw UpstreamError.Malformed(provider, "a chat completion without choices");
        var choice = choices[0];
        var content = new List<ContentBlock>();
        if (choice.TryGetProperty("message", out var message))
        {
            if (Str(message, "reasoning_content") is { Length: > 0 } reasoning)
                content.Add(new ReasoningBlock(reasoning));
            if (Str(message, "content") is { Length: > 0 } text)
                content.Add(new TextBlock(text));
            if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                foreach (var call in calls.EnumerateArray())
                {
                    var function = call.GetProperty("function");
                    content.Add(new ToolUseBlock(Str(call, "id") ?? "", Str(function, "name") ?? "", ParseArguments(Str(function, "arguments"))));
                }
            }
        }
        return new ConverseResponse
        {
            Output = new Message(ConversationRole.Assistant, content),
            StopReason = FinishReason(Str(choice, "finish_reason"), choice),
            Usage = root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object ? ParseUsage(usage) : new TokenUsage(0, 0),
            LatencyMs = latencyMs,
        };
    }

    /// <summary>Maps finish_reason to the native stop reason; vLLM names the matched stop string in the choice's
    /// stop_reason, which tells a stop sequence from a natural end.</summary>
    public static StopReason FinishReason(string? value, JsonElement choice) => value switch
    {
        "stop" when Str(choice, "stop_reason") is not null => StopReason.StopSequence,
        "length" => StopReason.MaxTokens,
        "tool_calls" or "function_call" => StopReason.ToolUse,
        "content_filter" => StopReason.ContentFiltered,
        _ => StopReason.EndTurn,
    };

    /// <summary>Maps OpenAI usage; cached prompt tokens become cache reads and leave the input count, as Bedrock counts them.</summary>
    public static TokenUsage ParseUsage(JsonElement usage)
    {
        var prompt = Int(usage, "prompt_tokens");
        var completion = Int(usage, "completion_tokens");
        var cached = usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
            ? Int(details, "cached_tokens") : 0;
        return new TokenUsage(Math.Max(0, prompt - cached), completion, cached);
    }

    /// <summary>Tool arguments as JSON; a model that produced invalid JSON gets its text kept as a JSON string.</summary>
    public static JsonElement ParseArguments(string? arguments)
    {
        if (string.IsNullOrWhiteSpace(arguments))
            return JsonSerializer.SerializeToElement(new JsonObject());
        try
        {
            using var doc = JsonDocument.Parse(arguments);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(arguments);
        }
    }

    /// <summary>A rough input token count (about four characters per token plus a few per message), for upstreams
    /// that expose no tokenizer endpoint.</summary>
    public static int EstimateTokens(ConverseRequest request)
    {
        var body = BuildRequest(request, stream: false);
        var chars = body["messages"]!.ToJsonString().Length + (body["tools"]?.ToJsonString().Length ?? 0);
        return (chars + 3) / 4 + 3 * request.Messages.Count;
    }

    private static string SystemText(IReadOnlyList<ContentBlock> system)
    {
        var sb = new StringBuilder();
        foreach (var block in system)
        {
            var text = block switch { TextBlock t => t.Text, GuardContentBlock g => g.Text, _ => null };
            if (text is null) continue;
            if (sb.Length > 0) sb.Append("\n\n");
            sb.Append(text);
        }
        return sb.ToString();
    }

    private static JsonObject AssistantMessage(Message message)
    {
        var text = new StringBuilder();
        var calls = new JsonArray();
        foreach (var block in message.Content)
        {
            switch (block)
            {
                case TextBlock t:
                    text.Append(t.Text);
                    break;
                case ToolUseBlock u:
                    calls.Add(new JsonObject
                    {
                        ["id"] = u.ToolUseId,
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = u.Name, ["arguments"] = u.Input.GetRawText() },
                    });
                    break;
            }
        }
        var result = new JsonObject { ["role"] = "assistant", ["content"] = text.Length > 0 ? text.ToString() : null };
        if (calls.Count > 0)
            result["tool_calls"] = calls;
        return result;
    }

    // Tool results become "tool" messages, which OpenAI wants right after the assistant's tool calls; the rest of the
    // user's content follows as one user message.
    private static void AddUserMessages(JsonArray messages, Message message)
    {
        var parts = new JsonArray();
        foreach (var block in message.Content)
        {
            switch (block)
            {
                case ToolResultBlock r:
                    messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = r.ToolUseId, ["content"] = ToolResultText(r) });
                    break;
                case TextBlock t:
                    parts.Add(new JsonObject { ["type"] = "text", ["text"] = t.Text });
                    break;
                case GuardContentBlock g:
                    parts.Add(new JsonObject { ["type"] = "text", ["text"] = g.Text });
                    break;
                case ImageBlock i:
                    parts.Add(new JsonObject
                    {
                        ["type"] = "image_url",
                        ["image_url"] = new JsonObject { ["url"] = $"data:image/{i.Format};base64,{Convert.ToBase64String(i.Bytes.Span)}" },
                    });
                    break;
                case DocumentBlock d:
                    parts.Add(DocumentPart(d.Format, d.Name, d.Bytes));
                    break;
            }
        }
        if (parts.Count > 0)
            messages.Add(new JsonObject { ["role"] = "user", ["content"] = parts });
    }

    private static JsonObject DocumentPart(string format, string name, ReadOnlyMemory<byte> bytes) => format switch
    {
        "pdf" => new JsonObject
        {
            ["type"] = "file",
            ["file"] = new JsonObject { ["filename"] = name + ".pdf", ["file_data"] = "data:application/pdf;base64," + Convert.ToBase64String(bytes.Span) },
        },
        "txt" or "md" or "csv" or "html" => new JsonObject
        {
            ["type"] = "text",
            ["text"] = $"<document name=\"{name}\" format=\"{format}\">\n{Encoding.UTF8.GetString(bytes.Span)}\n</document>",
        },
        _ => throw BasaltException.Validation($"OpenAI-compatible providers accept pdf, txt, md, csv and html documents, not '{format}'. Convert the document '{name}' first."),
    };

    private static string ToolResultText(ToolResultBlock result)
    {
        var sb = new StringBuilder();
        foreach (var item in result.Content)
        {
            switch (item)
            {
                case ToolResultText t: sb.Append(t.Text); break;
                case ToolResultJson j: sb.Append(j.Json.GetRawText()); break;
                default:
                    throw BasaltException.Validation($"OpenAI-compatible providers accept text or JSON tool results only; the result of tool call '{result.ToolUseId}' holds an image or document.");
            }
        }
        return result.Status == ToolResultStatus.Error ? "Error: " + sb : sb.ToString();
    }

    internal static string? Str(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static int Int(JsonElement element, string name)
        => element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : 0;
}
