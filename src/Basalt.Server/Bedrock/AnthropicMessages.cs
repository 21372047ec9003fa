using System.Buffers;
using System.Text;
using System.Text.Json;
using Basalt.Core.Bedrock;
using Basalt.Core.Conversation;
using static Basalt.Core.Bedrock.JsonInput;

namespace Basalt.Server.Bedrock;

/// <summary>InvokeModel's Anthropic Messages body family (as Bedrock's Claude models take it, with
/// "anthropic_version": "bedrock-2023-05-31"): request to native, native response and stream back to Anthropic JSON.</summary>
internal static class AnthropicMessages
{
    private static readonly string[] Roles = ["user", "assistant"];

    /// <summary>True when the body is an Anthropic Messages body.</summary>
    public static bool Matches(JsonElement root) => root.ValueKind == JsonValueKind.Object && root.TryGetProperty("anthropic_version", out _);

    /// <summary>Translates an Anthropic Messages body into the native request.</summary>
    public static ConverseRequest Read(JsonElement root, string modelId)
    {
        RequireObject(root, "body");
        RequiredString(root, "anthropic_version", "", min: 1);
        var maxTokens = Int(Required(root, "max_tokens", ""), "max_tokens", min: 1);
        var messagesElement = Required(root, "messages", "");
        RequireArray(messagesElement, "messages", min: 1);
        var messages = new List<Message>(messagesElement.GetArrayLength());
        var i = 0;
        foreach (var m in messagesElement.EnumerateArray())
        {
            var mp = $"messages[{i++}]";
            RequireObject(m, mp);
            var role = Enum(Required(m, "role", mp), mp + ".role", Roles) == "user" ? ConversationRole.User : ConversationRole.Assistant;
            messages.Add(new Message(role, Content(Required(m, "content", mp), mp + ".content")));
        }
        var system = new List<ContentBlock>();
        if (Optional(root, "system") is { } s)
        {
            if (s.ValueKind == JsonValueKind.String)
            {
                system.Add(new TextBlock(s.GetString()!));
            }
            else
            {
                RequireArray(s, "system");
                var j = 0;
                foreach (var b in s.EnumerateArray())
                {
                    var bp = $"system[{j++}]";
                    RequireObject(b, bp);
                    Enum(Required(b, "type", bp), bp + ".type", "text");
                    system.Add(new TextBlock(RequiredString(b, "text", bp)));
                    if (Optional(b, "cache_control") is not null)
                        system.Add(new CachePointBlock());
                }
            }
        }
        List<string>? stops = null;
        if (Optional(root, "stop_sequences") is { } ss)
        {
            RequireArray(ss, "stop_sequences", max: ConverseRequestReader.MaxStopSequences);
            stops = [];
            var k = 0;
            foreach (var x in ss.EnumerateArray())
                stops.Add(String(x, $"stop_sequences[{k++}]", min: 1));
        }
        return new ConverseRequest
        {
            ModelId = modelId,
            Messages = messages,
            System = system,
            InferenceConfig = new InferenceConfig
            {
                MaxTokens = maxTokens,
                Temperature = Optional(root, "temperature") is { } t ? Float(t, "temperature", 0, 1) : null,
                TopP = Optional(root, "top_p") is { } p ? Float(p, "top_p", 0, 1) : null,
                StopSequences = stops,
            },
            ToolConfig = Optional(root, "tools") is { } tools ? Tools(tools, Optional(root, "tool_choice")) : null,
            AdditionalModelRequestFields = AdditionalFields(root),
        };
    }

    private static List<ContentBlock> Content(JsonElement content, string path)
    {
        if (content.ValueKind == JsonValueKind.String)
            return [new TextBlock(content.GetString()!)];
        RequireArray(content, path);
        var blocks = new List<ContentBlock>(content.GetArrayLength());
        var i = 0;
        foreach (var b in content.EnumerateArray())
        {
            var bp = $"{path}[{i++}]";
            RequireObject(b, bp);
            var type = String(Required(b, "type", bp), bp + ".type");
            blocks.Add(type switch
            {
                "text" => new TextBlock(RequiredString(b, "text", bp)),
                "image" => Image(b, bp),
                "document" => Document(b, bp),
                "tool_use" => new ToolUseBlock(RequiredString(b, "id", bp, min: 1), RequiredString(b, "name", bp, min: 1), Required(b, "input", bp).Clone()),
                "tool_result" => ToolResult(b, bp),
                "thinking" => new ReasoningBlock(RequiredString(b, "thinking", bp), OptionalString(b, "signature", bp)),
                "redacted_thinking" => new ReasoningBlock(null, null, Base64(Required(b, "data", bp), bp + ".data")),
                _ => throw Error(bp + ".type", $"'{type}' is not a supported content block type; use text, image, document, tool_use, tool_result, thinking or redacted_thinking."),
            });
            if (Optional(b, "cache_control") is not null)
                blocks.Add(new CachePointBlock());
        }
        return blocks;
    }

    private static ImageBlock Image(JsonElement b, string path)
    {
        var (mediaType, data) = Base64Source(b, path);
        var format = mediaType switch
        {
            "image/png" => "png",
            "image/jpeg" => "jpeg",
            "image/gif" => "gif",
            "image/webp" => "webp",
            _ => throw Error(path + ".source.media_type", $"'{mediaType}' is not one of image/png, image/jpeg, image/gif, image/webp."),
        };
        return new ImageBlock(format, data);
    }

    private static DocumentBlock Document(JsonElement b, string path)
    {
        var name = OptionalString(b, "title", path) ?? "document";
        var sp = path + ".source";
        var source = Required(b, "source", path);
        RequireObject(source, sp);
        var type = Enum(Required(source, "type", sp), sp + ".type", "base64", "text");
        if (type == "text")
            return new DocumentBlock("txt", name, Encoding.UTF8.GetBytes(RequiredString(source, "data", sp)));
        var (mediaType, data) = Base64Source(b, path);
        var format = mediaType switch
        {
            "application/pdf" => "pdf",
            "text/plain" => "txt",
            "text/csv" => "csv",
            "text/html" => "html",
            "text/markdown" => "md",
            _ => throw Error(sp + ".media_type", $"'{mediaType}' is not a supported document type (application/pdf, text/plain, text/csv, text/html, text/markdown)."),
        };
        return new DocumentBlock(format, name, data);
    }

    private static (string MediaType, byte[] Data) Base64Source(JsonElement b, string path)
    {
        var sp = path + ".source";
        var source = Required(b, "source", path);
        RequireObject(source, sp);
        Enum(Required(source, "type", sp), sp + ".type", "base64", "text");
        return (RequiredString(source, "media_type", sp), Base64(Required(source, "data", sp), sp + ".data", minBytes: 1));
    }

    private static ToolResultBlock ToolResult(JsonElement b, string path)
    {
        var id = RequiredString(b, "tool_use_id", path, min: 1);
        var items = new List<ToolResultContent>();
        if (Optional(b, "content") is { } c)
        {
            if (c.ValueKind == JsonValueKind.String)
            {
                items.Add(new ToolResultText(c.GetString()!));
            }
            else
            {
                RequireArray(c, path + ".content");
                var i = 0;
                foreach (var item in c.EnumerateArray())
                {
                    var ip = $"{path}.content[{i++}]";
                    RequireObject(item, ip);
                    var type = String(Required(item, "type", ip), ip + ".type");
                    items.Add(type switch
                    {
                        "text" => new ToolResultText(RequiredString(item, "text", ip)),
                        "image" => ResultImage(Image(item, ip)),
                        _ => throw Error(ip + ".type", $"'{type}' is not a supported tool result content type; use text or image."),
                    });
                }
            }
        }
        var isError = Optional(b, "is_error") is { } e && Bool(e, path + ".is_error");
        return new ToolResultBlock(id, items, isError ? ToolResultStatus.Error : ToolResultStatus.Success);
    }

    private static ToolResultImage ResultImage(ImageBlock image) => new(image.Format, image.Bytes);

    private static ToolConfig Tools(JsonElement tools, JsonElement? choice)
    {
        RequireArray(tools, "tools");
        var specs = new List<ToolSpecification>(tools.GetArrayLength());
        var i = 0;
        foreach (var t in tools.EnumerateArray())
        {
            var tp = $"tools[{i++}]";
            RequireObject(t, tp);
            if (OptionalString(t, "type", tp) is { } type && type != "custom")
                throw Error(tp + ".type", $"server tools ('{type}') are not supported by Basalt; define custom tools with name and input_schema.");
            var schema = Required(t, "input_schema", tp);
            RequireObject(schema, tp + ".input_schema");
            specs.Add(new ToolSpecification(RequiredString(t, "name", tp, min: 1, max: ConverseRequestReader.MaxToolNameLength), OptionalString(t, "description", tp), schema.Clone()));
        }
        ToolChoice? toolChoice = null;
        if (choice is { } c)
        {
            RequireObject(c, "tool_choice");
            toolChoice = Enum(Required(c, "type", "tool_choice"), "tool_choice.type", "auto", "any", "tool", "none") switch
            {
                "auto" => ToolChoice.Auto,
                "any" => ToolChoice.Any,
                "none" => new ToolChoice(ToolChoiceKind.None),
                _ => new ToolChoice(ToolChoiceKind.Tool, RequiredString(c, "name", "tool_choice", min: 1)),
            };
        }
        return new ToolConfig(specs, toolChoice);
    }

    /// <summary>Fields the native request has no member for (top_k, thinking, anthropic_beta), passed through.</summary>
    private static JsonElement? AdditionalFields(JsonElement root)
    {
        JsonElement? topK = Optional(root, "top_k"), thinking = Optional(root, "thinking"), beta = Optional(root, "anthropic_beta");
        if (topK is null && thinking is null && beta is null)
            return null;
        if (topK is { } k)
            Int(k, "top_k", min: 0);
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (topK is { } tk)
            {
                w.WritePropertyName("top_k");
                tk.WriteTo(w);
            }
            if (thinking is { } th)
            {
                w.WritePropertyName("thinking");
                th.WriteTo(w);
            }
            if (beta is { } b)
            {
                w.WritePropertyName("anthropic_beta");
                b.WriteTo(w);
            }
            w.WriteEndObject();
        }
        using var doc = JsonDocument.Parse(buffer.WrittenMemory);
        return doc.RootElement.Clone();
    }

    /// <summary>Anthropic's name of a stop reason.</summary>
    public static string StopReasonName(StopReason reason) => reason switch
    {
        StopReason.ToolUse => "tool_use",
        StopReason.MaxTokens => "max_tokens",
        StopReason.StopSequence => "stop_sequence",
        StopReason.GuardrailIntervened or StopReason.ContentFiltered => "refusal",
        StopReason.ModelContextWindowExceeded => "model_context_window_exceeded",
        _ => "end_turn",
    };

    /// <summary>Writes an Anthropic Messages response.</summary>
    public static void WriteResponse(Utf8JsonWriter w, ConverseResponse r, string modelId, string messageId)
    {
        w.WriteStartObject();
        w.WriteString("id", messageId);
        w.WriteString("type", "message");
        w.WriteString("role", "assistant");
        w.WriteString("model", modelId);
        w.WriteStartArray("content");
        foreach (var b in r.Output.Content)
        {
            switch (b)
            {
                case TextBlock t:
                    w.WriteStartObject();
                    w.WriteString("type", "text");
                    w.WriteString("text", t.Text);
                    w.WriteEndObject();
                    break;
                case ToolUseBlock u:
                    w.WriteStartObject();
                    w.WriteString("type", "tool_use");
                    w.WriteString("id", u.ToolUseId);
                    w.WriteString("name", u.Name);
                    w.WritePropertyName("input");
                    if (u.Input.ValueKind == JsonValueKind.Undefined)
                        w.WriteRawValue("{}"u8);
                    else
                        u.Input.WriteTo(w);
                    w.WriteEndObject();
                    break;
                case ReasoningBlock { RedactedContent: { } redacted }:
                    w.WriteStartObject();
                    w.WriteString("type", "redacted_thinking");
                    w.WriteBase64String("data", redacted.Span);
                    w.WriteEndObject();
                    break;
                case ReasoningBlock rb:
                    w.WriteStartObject();
                    w.WriteString("type", "thinking");
                    w.WriteString("thinking", rb.Text ?? "");
                    w.WriteString("signature", rb.Signature ?? "");
                    w.WriteEndObject();
                    break;
            }
        }
        w.WriteEndArray();
        w.WriteString("stop_reason", StopReasonName(r.StopReason));
        w.WriteNull("stop_sequence");
        WriteUsage(w, r.Usage);
        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, TokenUsage u)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("input_tokens", u.InputTokens);
        w.WriteNumber("output_tokens", u.OutputTokens);
        w.WriteNumber("cache_creation_input_tokens", u.CacheWriteInputTokens);
        w.WriteNumber("cache_read_input_tokens", u.CacheReadInputTokens);
        w.WriteEndObject();
    }

    /// <summary>Turns native stream events into Anthropic streaming events (message_start, content_block_start,
    /// content_block_delta, content_block_stop, message_delta, message_stop), each sent as one chunk.</summary>
    internal sealed class StreamTranslator(BedrockEventStream stream, string modelId, string messageId, long startTimestamp)
    {
        private readonly HashSet<int> _open = [];
        private StopReason? _stopReason;
        private bool _finished;
        private long _firstByteMs = -1;

        public async Task WriteAsync(ConverseStreamEvent e)
        {
            if (_firstByteMs < 0)
                _firstByteMs = (long)System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
            switch (e)
            {
                case MessageStartEvent:
                {
                    var w = stream.BeginPayload();
                    w.WriteStartObject();
                    w.WriteString("type", "message_start");
                    w.WriteStartObject("message");
                    w.WriteString("id", messageId);
                    w.WriteString("type", "message");
                    w.WriteString("role", "assistant");
                    w.WriteString("model", modelId);
                    w.WriteStartArray("content");
                    w.WriteEndArray();
                    w.WriteNull("stop_reason");
                    w.WriteNull("stop_sequence");
                    w.WriteStartObject("usage");
                    w.WriteNumber("input_tokens", 0);
                    w.WriteNumber("output_tokens", 0);
                    w.WriteEndObject();
                    w.WriteEndObject();
                    w.WriteEndObject();
                    await stream.SendChunkAsync();
                    break;
                }
                case ContentBlockStartEvent s:
                    await StartBlockAsync(s.ContentBlockIndex, "tool_use", s.ToolUseId, s.ToolName);
                    break;
                case ContentBlockDeltaEvent d:
                {
                    if (!_open.Contains(d.ContentBlockIndex))
                        await StartBlockAsync(d.ContentBlockIndex, d.Delta switch { ToolUseDelta => "tool_use", ReasoningDelta => "thinking", _ => "text" }, "", "");
                    var w = stream.BeginPayload();
                    w.WriteStartObject();
                    w.WriteString("type", "content_block_delta");
                    w.WriteNumber("index", d.ContentBlockIndex);
                    w.WriteStartObject("delta");
                    switch (d.Delta)
                    {
                        case TextDelta t:
                            w.WriteString("type", "text_delta");
                            w.WriteString("text", t.Text);
                            break;
                        case ToolUseDelta u:
                            w.WriteString("type", "input_json_delta");
                            w.WriteString("partial_json", u.InputJsonFragment);
                            break;
                        case ReasoningDelta { Text: { } text }:
                            w.WriteString("type", "thinking_delta");
                            w.WriteString("thinking", text);
                            break;
                        case ReasoningDelta r:
                            w.WriteString("type", "signature_delta");
                            w.WriteString("signature", r.Signature ?? "");
                            break;
                    }
                    w.WriteEndObject();
                    w.WriteEndObject();
                    await stream.SendChunkAsync();
                    break;
                }
                case ContentBlockStopEvent s:
                {
                    if (!_open.Contains(s.ContentBlockIndex))
                        await StartBlockAsync(s.ContentBlockIndex, "text", "", "");
                    _open.Remove(s.ContentBlockIndex);
                    var w = stream.BeginPayload();
                    w.WriteStartObject();
                    w.WriteString("type", "content_block_stop");
                    w.WriteNumber("index", s.ContentBlockIndex);
                    w.WriteEndObject();
                    await stream.SendChunkAsync();
                    break;
                }
                case MessageStopEvent s:
                    _stopReason = s.StopReason;
                    break;
                case MetadataEvent m:
                    await FinishAsync(m.Usage, m.LatencyMs);
                    break;
            }
        }

        /// <summary>Ends the message when the stream ended without a metadata event.</summary>
        public Task CompleteAsync() => _finished ? Task.CompletedTask : FinishAsync(new TokenUsage(0, 0), (long)System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds);

        private async Task StartBlockAsync(int index, string type, string id, string name)
        {
            _open.Add(index);
            var w = stream.BeginPayload();
            w.WriteStartObject();
            w.WriteString("type", "content_block_start");
            w.WriteNumber("index", index);
            w.WriteStartObject("content_block");
            w.WriteString("type", type);
            switch (type)
            {
                case "tool_use":
                    w.WriteString("id", id);
                    w.WriteString("name", name);
                    w.WriteStartObject("input");
                    w.WriteEndObject();
                    break;
                case "thinking":
                    w.WriteString("thinking", "");
                    break;
                default:
                    w.WriteString("text", "");
                    break;
            }
            w.WriteEndObject();
            w.WriteEndObject();
            await stream.SendChunkAsync();
        }

        private async Task FinishAsync(TokenUsage usage, long latencyMs)
        {
            _finished = true;
            var w = stream.BeginPayload();
            w.WriteStartObject();
            w.WriteString("type", "message_delta");
            w.WriteStartObject("delta");
            w.WriteString("stop_reason", StopReasonName(_stopReason ?? StopReason.EndTurn));
            w.WriteNull("stop_sequence");
            w.WriteEndObject();
            w.WriteStartObject("usage");
            w.WriteNumber("output_tokens", usage.OutputTokens);
            w.WriteEndObject();
            w.WriteEndObject();
            await stream.SendChunkAsync();

            w = stream.BeginPayload();
            w.WriteStartObject();
            w.WriteString("type", "message_stop");
            InvocationMetrics.Write(w, usage, latencyMs, Math.Max(0, _firstByteMs));
            w.WriteEndObject();
            await stream.SendChunkAsync();
        }
    }
}

/// <summary>The "amazon-bedrock-invocationMetrics" object Bedrock adds to the last chunk of an invoke stream.</summary>
internal static class InvocationMetrics
{
    public static void Write(Utf8JsonWriter w, TokenUsage usage, long latencyMs, long firstByteLatencyMs)
    {
        w.WriteStartObject("amazon-bedrock-invocationMetrics");
        w.WriteNumber("inputTokenCount", usage.InputTokens);
        w.WriteNumber("outputTokenCount", usage.OutputTokens);
        w.WriteNumber("invocationLatency", latencyMs);
        w.WriteNumber("firstByteLatency", firstByteLatencyMs);
        if (usage.CacheReadInputTokens > 0)
            w.WriteNumber("cacheReadInputTokenCount", usage.CacheReadInputTokens);
        if (usage.CacheWriteInputTokens > 0)
            w.WriteNumber("cacheWriteInputTokenCount", usage.CacheWriteInputTokens);
        w.WriteEndObject();
    }
}
