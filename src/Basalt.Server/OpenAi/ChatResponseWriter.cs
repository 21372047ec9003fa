using System.Text.Json;
using Basalt.Core.Conversation;

namespace Basalt.Server.OpenAi;

/// <summary>Writes native responses as OpenAI chat.completion objects.</summary>
internal static class ChatResponseWriter
{
    /// <summary>A new completion id, "chatcmpl-" and 32 hex digits.</summary>
    public static string NewId() => string.Create(41, Guid.NewGuid(), static (span, guid) =>
    {
        "chatcmpl-".CopyTo(span);
        guid.TryFormat(span[9..], out _, "N");
    });

    /// <summary>OpenAI's finish_reason of a native stop reason.</summary>
    public static string FinishReason(StopReason reason) => reason switch
    {
        StopReason.MaxTokens or StopReason.ModelContextWindowExceeded => "length",
        StopReason.ToolUse => "tool_calls",
        StopReason.GuardrailIntervened or StopReason.ContentFiltered => "content_filter",
        _ => "stop",
    };

    /// <summary>Writes a whole chat.completion object.</summary>
    public static void WriteCompletion(Utf8JsonWriter json, string id, long created, string model, ConverseResponse response)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, id);
        json.WriteString("object"u8, "chat.completion"u8);
        json.WriteNumber("created"u8, created);
        json.WriteString("model"u8, model);
        json.WriteStartArray("choices"u8);
        json.WriteStartObject();
        json.WriteNumber("index"u8, 0);
        json.WriteStartObject("message"u8);
        json.WriteString("role"u8, "assistant"u8);
        WriteMessageBody(json, response.Output.Content);
        json.WriteEndObject();
        json.WriteNull("logprobs"u8);
        json.WriteString("finish_reason"u8, FinishReason(response.StopReason));
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, response.Usage);
        json.WriteEndObject();
    }

    /// <summary>Writes "usage" in OpenAI's counting: prompt_tokens include cached tokens, which Converse counts apart.</summary>
    public static void WriteUsage(Utf8JsonWriter json, TokenUsage usage)
    {
        var prompt = usage.InputTokens + usage.CacheReadInputTokens + usage.CacheWriteInputTokens;
        json.WriteStartObject("usage"u8);
        json.WriteNumber("prompt_tokens"u8, prompt);
        json.WriteNumber("completion_tokens"u8, usage.OutputTokens);
        json.WriteNumber("total_tokens"u8, prompt + usage.OutputTokens);
        json.WriteStartObject("prompt_tokens_details"u8);
        json.WriteNumber("cached_tokens"u8, usage.CacheReadInputTokens);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteMessageBody(Utf8JsonWriter json, IReadOnlyList<ContentBlock> content)
    {
        string? text = null;
        string? reasoning = null;
        var toolCalls = 0;
        foreach (var block in content)
        {
            switch (block)
            {
                case TextBlock t:
                    text = text is null ? t.Text : text + t.Text;
                    break;
                case ReasoningBlock { Text: not null } rb:
                    reasoning = reasoning is null ? rb.Text : reasoning + rb.Text;
                    break;
                case ToolUseBlock:
                    toolCalls++;
                    break;
            }
        }
        // OpenAI sends content null beside tool calls, and a string otherwise.
        if (text is null && toolCalls > 0)
            json.WriteNull("content"u8);
        else
            json.WriteString("content"u8, text ?? "");
        json.WriteNull("refusal"u8);
        if (reasoning is not null)
            json.WriteString("reasoning_content"u8, reasoning);
        if (toolCalls == 0)
            return;
        json.WriteStartArray("tool_calls"u8);
        foreach (var block in content)
        {
            if (block is not ToolUseBlock call)
                continue;
            json.WriteStartObject();
            json.WriteString("id"u8, call.ToolUseId);
            json.WriteString("type"u8, "function"u8);
            json.WriteStartObject("function"u8);
            json.WriteString("name"u8, call.Name);
            json.WriteString("arguments"u8, call.Input.ValueKind == JsonValueKind.Undefined ? "{}" : call.Input.GetRawText());
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
