using System.Text.Json;
using Basalt.Core.Conversation;

namespace Basalt.Core.Bedrock;

/// <summary>Writes the native response and stream events as bedrock-runtime JSON (ConverseResponse,
/// ConverseStreamOutput members).</summary>
internal static class ConverseResponseWriter
{
    /// <summary>Writes a whole ConverseResponse object.</summary>
    public static void WriteResponse(Utf8JsonWriter w, ConverseResponse r)
    {
        w.WriteStartObject();
        w.WriteStartObject("output");
        w.WritePropertyName("message");
        WriteMessage(w, r.Output);
        w.WriteEndObject();
        w.WriteString("stopReason", StopReasons.ToWire(r.StopReason));
        w.WritePropertyName("usage");
        WriteUsage(w, r.Usage);
        w.WriteStartObject("metrics");
        w.WriteNumber("latencyMs", r.LatencyMs);
        w.WriteEndObject();
        if (r.AdditionalModelResponseFields is { } extra)
        {
            w.WritePropertyName("additionalModelResponseFields");
            extra.WriteTo(w);
        }
        if (r.PerformanceConfig is { } pc)
            WritePerformance(w, pc);
        if (r.Trace is { } trace)
        {
            w.WritePropertyName("trace");
            trace.WriteTo(w);
        }
        w.WriteEndObject();
    }

    /// <summary>Writes a Message: role and content blocks.</summary>
    public static void WriteMessage(Utf8JsonWriter w, Message m)
    {
        w.WriteStartObject();
        w.WriteString("role", m.Role == ConversationRole.User ? "user" : "assistant");
        w.WriteStartArray("content");
        foreach (var b in m.Content)
            WriteBlock(w, b);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Writes one ContentBlock union.</summary>
    public static void WriteBlock(Utf8JsonWriter w, ContentBlock b)
    {
        w.WriteStartObject();
        switch (b)
        {
            case TextBlock t:
                w.WriteString("text", t.Text);
                break;
            case ImageBlock i:
                w.WriteStartObject("image");
                WriteImageBody(w, i.Format, i.Bytes);
                w.WriteEndObject();
                break;
            case DocumentBlock d:
                w.WriteStartObject("document");
                WriteDocumentBody(w, d.Format, d.Name, d.Bytes);
                w.WriteEndObject();
                break;
            case ToolUseBlock u:
                w.WriteStartObject("toolUse");
                w.WriteString("toolUseId", u.ToolUseId);
                w.WriteString("name", u.Name);
                w.WritePropertyName("input");
                if (u.Input.ValueKind == JsonValueKind.Undefined)
                    w.WriteRawValue("{}"u8);
                else
                    u.Input.WriteTo(w);
                w.WriteEndObject();
                break;
            case ToolResultBlock r:
                w.WriteStartObject("toolResult");
                w.WriteString("toolUseId", r.ToolUseId);
                w.WriteStartArray("content");
                foreach (var c in r.Content)
                    WriteToolResultContent(w, c);
                w.WriteEndArray();
                if (r.Status is { } s)
                    w.WriteString("status", s == ToolResultStatus.Success ? "success" : "error");
                w.WriteEndObject();
                break;
            case CachePointBlock c:
                w.WriteStartObject("cachePoint");
                w.WriteString("type", "default");
                if (c.Ttl is not null)
                    w.WriteString("ttl", c.Ttl);
                w.WriteEndObject();
                break;
            case GuardContentBlock g:
                w.WriteStartObject("guardContent");
                w.WriteStartObject("text");
                w.WriteString("text", g.Text);
                if (g.Qualifiers is { } q)
                {
                    w.WriteStartArray("qualifiers");
                    foreach (var x in q)
                        w.WriteStringValue(x);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
                w.WriteEndObject();
                break;
            case ReasoningBlock r:
                w.WriteStartObject("reasoningContent");
                if (r.RedactedContent is { } redacted)
                {
                    w.WriteBase64String("redactedContent", redacted.Span);
                }
                else
                {
                    w.WriteStartObject("reasoningText");
                    w.WriteString("text", r.Text ?? "");
                    if (r.Signature is not null)
                        w.WriteString("signature", r.Signature);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                break;
            default:
                w.WriteString("text", "");
                break;
        }
        w.WriteEndObject();
    }

    private static void WriteToolResultContent(Utf8JsonWriter w, ToolResultContent c)
    {
        w.WriteStartObject();
        switch (c)
        {
            case ToolResultText t:
                w.WriteString("text", t.Text);
                break;
            case ToolResultJson j:
                w.WritePropertyName("json");
                j.Json.WriteTo(w);
                break;
            case ToolResultImage i:
                w.WriteStartObject("image");
                WriteImageBody(w, i.Format, i.Bytes);
                w.WriteEndObject();
                break;
            case ToolResultDocument d:
                w.WriteStartObject("document");
                WriteDocumentBody(w, d.Format, d.Name, d.Bytes);
                w.WriteEndObject();
                break;
        }
        w.WriteEndObject();
    }

    private static void WriteImageBody(Utf8JsonWriter w, string format, ReadOnlyMemory<byte> bytes)
    {
        w.WriteString("format", format);
        w.WriteStartObject("source");
        w.WriteBase64String("bytes", bytes.Span);
        w.WriteEndObject();
    }

    private static void WriteDocumentBody(Utf8JsonWriter w, string format, string name, ReadOnlyMemory<byte> bytes)
    {
        w.WriteString("format", format);
        w.WriteString("name", name);
        w.WriteStartObject("source");
        w.WriteBase64String("bytes", bytes.Span);
        w.WriteEndObject();
    }

    /// <summary>Writes a TokenUsage object.</summary>
    public static void WriteUsage(Utf8JsonWriter w, TokenUsage u)
    {
        w.WriteStartObject();
        w.WriteNumber("inputTokens", u.InputTokens);
        w.WriteNumber("outputTokens", u.OutputTokens);
        w.WriteNumber("totalTokens", u.TotalTokens);
        w.WriteNumber("cacheReadInputTokens", u.CacheReadInputTokens);
        w.WriteNumber("cacheWriteInputTokens", u.CacheWriteInputTokens);
        w.WriteEndObject();
    }

    private static void WritePerformance(Utf8JsonWriter w, PerformanceConfig pc)
    {
        w.WriteStartObject("performanceConfig");
        w.WriteString("latency", pc.Latency);
        w.WriteEndObject();
    }

    /// <summary>The ConverseStreamOutput member name of a native stream event.</summary>
    public static string EventType(ConverseStreamEvent e) => e switch
    {
        MessageStartEvent => "messageStart",
        ContentBlockStartEvent => "contentBlockStart",
        ContentBlockDeltaEvent => "contentBlockDelta",
        ContentBlockStopEvent => "contentBlockStop",
        MessageStopEvent => "messageStop",
        MetadataEvent => "metadata",
        _ => throw new ArgumentOutOfRangeException(nameof(e), e.GetType().Name, "Unknown stream event."),
    };

    /// <summary>Writes the JSON payload of one stream event (the event's members, without the union wrapper).</summary>
    public static void WriteEventPayload(Utf8JsonWriter w, ConverseStreamEvent e)
    {
        w.WriteStartObject();
        switch (e)
        {
            case MessageStartEvent s:
                w.WriteString("role", s.Role == ConversationRole.User ? "user" : "assistant");
                break;
            case ContentBlockStartEvent s:
                w.WriteNumber("contentBlockIndex", s.ContentBlockIndex);
                w.WriteStartObject("start");
                w.WriteStartObject("toolUse");
                w.WriteString("toolUseId", s.ToolUseId);
                w.WriteString("name", s.ToolName);
                w.WriteEndObject();
                w.WriteEndObject();
                break;
            case ContentBlockDeltaEvent d:
                w.WriteNumber("contentBlockIndex", d.ContentBlockIndex);
                w.WriteStartObject("delta");
                switch (d.Delta)
                {
                    case TextDelta t:
                        w.WriteString("text", t.Text);
                        break;
                    case ToolUseDelta u:
                        w.WriteStartObject("toolUse");
                        w.WriteString("input", u.InputJsonFragment);
                        w.WriteEndObject();
                        break;
                    case ReasoningDelta r:
                        w.WriteStartObject("reasoningContent");
                        if (r.Text is not null)
                            w.WriteString("text", r.Text);
                        else
                            w.WriteString("signature", r.Signature ?? "");
                        w.WriteEndObject();
                        break;
                }
                w.WriteEndObject();
                break;
            case ContentBlockStopEvent s:
                w.WriteNumber("contentBlockIndex", s.ContentBlockIndex);
                break;
            case MessageStopEvent s:
                w.WriteString("stopReason", StopReasons.ToWire(s.StopReason));
                if (s.AdditionalModelResponseFields is { } extra)
                {
                    w.WritePropertyName("additionalModelResponseFields");
                    extra.WriteTo(w);
                }
                break;
            case MetadataEvent m:
                w.WritePropertyName("usage");
                WriteUsage(w, m.Usage);
                w.WriteStartObject("metrics");
                w.WriteNumber("latencyMs", m.LatencyMs);
                w.WriteEndObject();
                if (m.Trace is { } trace)
                {
                    w.WritePropertyName("trace");
                    trace.WriteTo(w);
                }
                if (m.PerformanceConfig is { } pc)
                    WritePerformance(w, pc);
                break;
        }
        w.WriteEndObject();
    }
}
