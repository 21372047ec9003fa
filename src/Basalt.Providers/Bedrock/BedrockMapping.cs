using System.Text.Json;
using Basalt.Core.Bedrock;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Providers.Bedrock;

/// <summary>Writes the native request as a bedrock-runtime Converse body and reads Converse responses and
/// ConverseStream event payloads back; the content blocks go through the same reader and writer as the Bedrock face.</summary>
internal static class BedrockMapping
{
    /// <summary>Writes the Converse (or ConverseStream) request body.</summary>
    public static void WriteRequest(Utf8JsonWriter w, ConverseRequest r)
    {
        w.WriteStartObject();
        WriteConversation(w, r);
        if (r.InferenceConfig is { } ic)
        {
            w.WriteStartObject("inferenceConfig");
            if (ic.MaxTokens is { } max) w.WriteNumber("maxTokens", max);
            if (ic.Temperature is { } t) w.WriteNumber("temperature", t);
            if (ic.TopP is { } p) w.WriteNumber("topP", p);
            if (ic.StopSequences is { Count: > 0 } stop)
            {
                w.WriteStartArray("stopSequences");
                foreach (var s in stop) w.WriteStringValue(s);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        if (r.AdditionalModelRequestFields is { } extra)
        {
            w.WritePropertyName("additionalModelRequestFields");
            extra.WriteTo(w);
        }
        if (r.AdditionalModelResponseFieldPaths is { Count: > 0 } paths)
        {
            w.WriteStartArray("additionalModelResponseFieldPaths");
            foreach (var path in paths) w.WriteStringValue(path);
            w.WriteEndArray();
        }
        if (r.PerformanceConfig is { } pc)
        {
            w.WriteStartObject("performanceConfig");
            w.WriteString("latency", pc.Latency);
            w.WriteEndObject();
        }
        if (r.RequestMetadata is { Count: > 0 } metadata)
        {
            w.WriteStartObject("requestMetadata");
            foreach (var (key, value) in metadata) w.WriteString(key, value);
            w.WriteEndObject();
        }
        if (r.GuardrailConfig is { } g)
        {
            w.WriteStartObject("guardrailConfig");
            w.WriteString("guardrailIdentifier", g.GuardrailIdentifier);
            w.WriteString("guardrailVersion", g.GuardrailVersion);
            if (g.Trace is not null) w.WriteString("trace", g.Trace);
            if (g.StreamProcessingMode is not null) w.WriteString("streamProcessingMode", g.StreamProcessingMode);
            w.WriteEndObject();
        }
        if (r.ResponseFormat is { Type: "json_schema", Schema: { } schema } format)
        {
            w.WriteStartObject("outputConfig");
            w.WriteStartObject("textFormat");
            w.WriteString("type", "json_schema");
            w.WriteStartObject("structure");
            w.WriteStartObject("jsonSchema");
            w.WriteString("schema", schema.GetRawText());
            if (format.SchemaName is not null) w.WriteString("name", format.SchemaName);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>Writes a CountTokens body: {"input":{"converse":{messages, system, toolConfig}}}.</summary>
    public static void WriteCountTokensRequest(Utf8JsonWriter w, ConverseRequest r)
    {
        w.WriteStartObject();
        w.WriteStartObject("input");
        w.WriteStartObject("converse");
        WriteConversation(w, r);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>Reads a ConverseResponse body.</summary>
    public static ConverseResponse ReadResponse(JsonElement root, string provider)
    {
        try
        {
            var output = root.GetProperty("output").GetProperty("message");
            return new ConverseResponse
            {
                Output = ConverseRequestReader.ReadMessage(output, "output.message"),
                StopReason = StopReasons.FromWire(Str(root, "stopReason")),
                Usage = root.TryGetProperty("usage", out var usage) ? ReadUsage(usage) : new TokenUsage(0, 0),
                LatencyMs = root.TryGetProperty("metrics", out var metrics) && metrics.TryGetProperty("latencyMs", out var l) && l.TryGetInt64(out var ms) ? ms : 0,
                AdditionalModelResponseFields = Clone(root, "additionalModelResponseFields"),
                PerformanceConfig = root.TryGetProperty("performanceConfig", out var pc) && Str(pc, "latency") is { } latency ? new PerformanceConfig(latency) : null,
                Trace = Clone(root, "trace"),
            };
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or BasaltException)
        {
            throw UpstreamError.Malformed(provider, "a Converse response that does not follow the bedrock-runtime shape (" + ex.Message + ")", ex);
        }
    }

    /// <summary>Reads one ConverseStream event payload of the given :event-type; unknown types yield null.</summary>
    public static ConverseStreamEvent? ReadEvent(string eventType, JsonElement p, string provider)
    {
        try
        {
            switch (eventType)
            {
                case "messageStart":
                    return new MessageStartEvent(Str(p, "role") == "user" ? ConversationRole.User : ConversationRole.Assistant);
                case "contentBlockStart":
                    if (p.GetProperty("start").TryGetProperty("toolUse", out var tool))
                        return new ContentBlockStartEvent(Index(p), Str(tool, "toolUseId") ?? "", Str(tool, "name") ?? "");
                    return null;
                case "contentBlockDelta":
                {
                    var delta = p.GetProperty("delta");
                    if (delta.TryGetProperty("text", out var text))
                        return new ContentBlockDeltaEvent(Index(p), new TextDelta(text.GetString() ?? ""));
                    if (delta.TryGetProperty("toolUse", out var use))
                        return new ContentBlockDeltaEvent(Index(p), new ToolUseDelta(Str(use, "input") ?? ""));
                    if (delta.TryGetProperty("reasoningContent", out var reasoning))
                    {
                        if (Str(reasoning, "text") is { } rt)
                            return new ContentBlockDeltaEvent(Index(p), new ReasoningDelta(rt));
                        if (Str(reasoning, "signature") is { } sig)
                            return new ContentBlockDeltaEvent(Index(p), new ReasoningDelta(null, sig));
                    }
                    return null;
                }
                case "contentBlockStop":
                    return new ContentBlockStopEvent(Index(p));
                case "messageStop":
                    return new MessageStopEvent(StopReasons.FromWire(Str(p, "stopReason")), Clone(p, "additionalModelResponseFields"));
                case "metadata":
                    return new MetadataEvent(
                        p.TryGetProperty("usage", out var usage) ? ReadUsage(usage) : new TokenUsage(0, 0),
                        p.TryGetProperty("metrics", out var metrics) && metrics.TryGetProperty("latencyMs", out var l) && l.TryGetInt64(out var ms) ? ms : 0,
                        Clone(p, "trace"),
                        p.TryGetProperty("performanceConfig", out var pc) && Str(pc, "latency") is { } latency ? new PerformanceConfig(latency) : null);
                default:
                    return null;
            }
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException)
        {
            throw UpstreamError.Malformed(provider, $"a {eventType} event that does not follow the bedrock-runtime shape", ex);
        }
    }

    /// <summary>The error kind of a bedrock-runtime exception name (an exception frame's :exception-type or x-amzn-ErrorType).</summary>
    public static ErrorKind ErrorKindOf(string? exceptionType)
    {
        var name = (exceptionType ?? "").Split(':')[0];
        return name.ToLowerInvariant() switch
        {
            "validationexception" => ErrorKind.Validation,
            "accessdeniedexception" => ErrorKind.AccessDenied,
            "resourcenotfoundexception" => ErrorKind.ResourceNotFound,
            "throttlingexception" => ErrorKind.Throttling,
            "modeltimeoutexception" => ErrorKind.ModelTimeout,
            "servicequotaexceededexception" => ErrorKind.ServiceQuotaExceeded,
            "serviceunavailableexception" => ErrorKind.ServiceUnavailable,
            "modelnotreadyexception" => ErrorKind.ModelNotReady,
            _ => ErrorKind.ModelError,
        };
    }

    private static void WriteConversation(Utf8JsonWriter w, ConverseRequest r)
    {
        w.WriteStartArray("messages");
        foreach (var m in r.Messages)
            ConverseResponseWriter.WriteMessage(w, m);
        w.WriteEndArray();
        if (r.System.Count > 0)
        {
            w.WriteStartArray("system");
            foreach (var b in r.System)
                ConverseResponseWriter.WriteBlock(w, b);
            w.WriteEndArray();
        }
        if (r.ToolConfig is { Tools.Count: > 0 } tools)
        {
            w.WriteStartObject("toolConfig");
            w.WriteStartArray("tools");
            foreach (var t in tools.Tools)
            {
                w.WriteStartObject();
                w.WriteStartObject("toolSpec");
                w.WriteString("name", t.Name);
                if (t.Description is not null) w.WriteString("description", t.Description);
                w.WriteStartObject("inputSchema");
                w.WritePropertyName("json");
                t.InputSchema.WriteTo(w);
                w.WriteEndObject();
                w.WriteEndObject();
                w.WriteEndObject();
            }
            if (tools.CachePoint is { } cachePoint)
                ConverseResponseWriter.WriteBlock(w, cachePoint);
            w.WriteEndArray();
            // Bedrock has no "none" choice: leaving toolChoice out lets the model decide.
            if (tools.ToolChoice is { Kind: not ToolChoiceKind.None } choice)
            {
                w.WriteStartObject("toolChoice");
                switch (choice.Kind)
                {
                    case ToolChoiceKind.Any: w.WriteStartObject("any"); w.WriteEndObject(); break;
                    case ToolChoiceKind.Tool: w.WriteStartObject("tool"); w.WriteString("name", choice.Name); w.WriteEndObject(); break;
                    default: w.WriteStartObject("auto"); w.WriteEndObject(); break;
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
    }

    private static TokenUsage ReadUsage(JsonElement u)
        => new(Int(u, "inputTokens"), Int(u, "outputTokens"), Int(u, "cacheReadInputTokens"), Int(u, "cacheWriteInputTokens"));

    private static int Index(JsonElement p) => p.GetProperty("contentBlockIndex").GetInt32();

    private static int Int(JsonElement e, string name)
        => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.TryGetInt32(out var i) ? i : 0;

    private static string? Str(JsonElement e, string name)
        => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static JsonElement? Clone(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v.Clone() : null;
}
