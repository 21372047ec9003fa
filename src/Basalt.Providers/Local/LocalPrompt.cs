using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Engine.Templates;

namespace Basalt.Providers.Local;

/// <summary>Turns the native request into a chat-template input and sampling settings for the local engine.</summary>
internal static class LocalPrompt
{
    /// <summary>Mistral templates accept only 9-character alphanumeric tool call ids.</summary>
    private const int MistralToolCallIdLength = 9;

    /// <summary>Renders the request with the model's template (or the fallback); template errors become validation errors.</summary>
    public static string Render(ConverseRequest request, ChatTemplate template, ToolCallFormat format, string bos, string eos)
    {
        var input = BuildInput(request, format) with { BosToken = bos, EosToken = eos };
        try
        {
            return template.Render(input);
        }
        catch (TemplateException e)
        {
            throw BasaltException.Validation(e.RaisedByTemplate
                ? $"The model's chat template rejected the conversation: {e.Reason}"
                : $"The model's chat template failed: {e.Message}");
        }
    }

    /// <summary>Where each cachePoint of the request falls in <paramref name="rendered"/> (the prompt as
    /// <see cref="Render"/> gives it), as character offsets with their TTLs. The conversation is rendered again with a marker
    /// in place of each cachePoint; a tools cachePoint marks everything before the system prompt or first message, the part
    /// of the prompt that depends on nothing else. Empty when the request has none, or when the markers change how the
    /// template renders (then no prefix is pinned; automatic prefix reuse still applies).</summary>
    public static IReadOnlyList<(int Offset, TimeSpan Ttl)> CachePointOffsets(ConverseRequest request, ChatTemplate template, ToolCallFormat format,
        string bos, string eos, string rendered)
    {
        if (!HasCachePoint(request))
            return [];
        var markers = new CachePointMarkers();
        string marked;
        try
        {
            marked = template.Render(BuildInput(request, format, markers) with { BosToken = bos, EosToken = eos });
        }
        catch (TemplateException)
        {
            return [];
        }
        var offsets = new List<(int, TimeSpan)>();
        var clean = new StringBuilder(marked.Length);
        var startOffset = -1;
        var i = 0;
        while (i < marked.Length)
        {
            if (marked[i] == CachePointMarkers.Open && marked.IndexOf(CachePointMarkers.Close, i) is var end and > 0)
            {
                var id = marked.AsSpan(i + 1, end - i - 1);
                if (id.SequenceEqual("s"))
                    startOffset = startOffset < 0 ? clean.Length : startOffset;
                else if (int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k) && k < markers.Ttls.Count)
                    offsets.Add((clean.Length, markers.Ttls[k]));
                i = end + 1;
                continue;
            }
            clean.Append(marked[i++]);
        }
        if (!clean.Equals(rendered))
            return [];
        if (request.ToolConfig?.CachePoint is { } toolsPoint && startOffset >= 0)
            offsets.Add((startOffset, Ttl(toolsPoint)));
        return offsets;
    }

    private static bool HasCachePoint(ConverseRequest request)
    {
        if (request.ToolConfig?.CachePoint is not null)
            return true;
        foreach (var b in request.System)
            if (b is CachePointBlock) return true;
        foreach (var m in request.Messages)
            foreach (var b in m.Content)
                if (b is CachePointBlock) return true;
        return false;
    }

    /// <summary>The TTL a cachePoint asks for: 5 minutes unless "1h".</summary>
    public static TimeSpan Ttl(CachePointBlock c) => c.Ttl == "1h" ? Engine.Generation.CachePoint.LongTtl : Engine.Generation.CachePoint.DefaultTtl;

    /// <summary>Marker text for cachePoint blocks: private-use characters no tokenizer sees, since they are removed again.</summary>
    private sealed class CachePointMarkers
    {
        public const char Open = '\uE000', Close = '\uE001';
        public readonly List<TimeSpan> Ttls = [];
        public readonly string Start = $"{Open}s{Close}";

        public string Add(CachePointBlock c)
        {
            Ttls.Add(Ttl(c));
            return $"{Open}{(Ttls.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)}{Close}";
        }
    }

    public static ChatTemplateInput BuildInput(ConverseRequest request, ToolCallFormat format) => BuildInput(request, format, null);

    /// <summary>Builds the template input; with <paramref name="markers"/>, each cachePoint block (and the start of the
    /// conversation, for a tools cachePoint) leaves a marker in the text so its place in the rendered prompt can be found.</summary>
    private static ChatTemplateInput BuildInput(ConverseRequest request, ToolCallFormat format, CachePointMarkers? markers)
    {
        var messages = new List<ChatMessage>();
        var system = JoinText(request.System, markers);
        if (system.Length > 0)
            messages.Add(new ChatMessage("system", system));
        var toolNames = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Messages.Count; i++)
        {
            var message = request.Messages[i];
            var text = new StringBuilder();
            var hasText = false; // the markers are not text: separators depend only on real text
            if (markers is not null && i == 0 && system.Length == 0)
                text.Append(markers.Start);
            var calls = new List<ChatToolCall>();
            string? reasoning = null;
            foreach (var block in message.Content)
            {
                switch (block)
                {
                    case TextBlock t:
                        if (hasText) text.Append('\n');
                        text.Append(t.Text);
                        hasText = true;
                        break;
                    case GuardContentBlock g:
                        if (hasText) text.Append('\n');
                        text.Append(g.Text);
                        hasText = true;
                        break;
                    case CachePointBlock c:
                        if (markers is not null)
                            text.Append(markers.Add(c));
                        break;
                    case ReasoningBlock r:
                        reasoning = (reasoning ?? "") + r.Text;
                        break;
                    case ToolUseBlock u:
                        toolNames[u.ToolUseId] = u.Name;
                        calls.Add(new ChatToolCall(ToolCallId(u.ToolUseId, format), u.Name, u.Input.GetRawText()));
                        break;
                    case ToolResultBlock r:
                        messages.Add(new ChatMessage("tool", ToolResultText(r))
                        {
                            ToolCallId = ToolCallId(r.ToolUseId, format),
                            Name = toolNames.GetValueOrDefault(r.ToolUseId),
                        });
                        break;
                    case ImageBlock or DocumentBlock:
                        throw BasaltException.Validation($"messages.{i}: the local engine accepts text only; remove image and document blocks or use a vision-capable provider.");
                    default:
                        throw BasaltException.Validation($"messages.{i}: content block {block.GetType().Name} is not supported by the local engine.");
                }
            }
            var role = message.Role == ConversationRole.Assistant ? "assistant" : "user";
            if (role == "assistant")
                messages.Add(new ChatMessage(role, text.ToString()) { ToolCalls = calls.Count > 0 ? calls : null, ReasoningContent = reasoning });
            else if (text.Length > 0 || !HasToolResult(message))
                messages.Add(new ChatMessage(role, text.ToString()));
        }

        List<string>? tools = null;
        if (request.ToolConfig is { Tools.Count: > 0 } toolConfig && toolConfig.ToolChoice?.Kind != ToolChoiceKind.None)
        {
            tools = [];
            foreach (var t in toolConfig.Tools)
                tools.Add(ToolJson(t));
        }

        return new ChatTemplateInput
        {
            Messages = messages,
            Tools = tools,
            AddGenerationPrompt = true,
            Variables = TemplateVariables(request.AdditionalModelRequestFields),
        };
    }

    private static bool HasToolResult(Message message)
    {
        foreach (var b in message.Content)
            if (b is ToolResultBlock) return true;
        return false;
    }

    private static string JoinText(IReadOnlyList<ContentBlock> blocks, CachePointMarkers? markers = null)
    {
        var sb = new StringBuilder();
        var hasText = false;
        foreach (var b in blocks)
        {
            if (b is CachePointBlock c && markers is not null)
            {
                sb.Append(markers.Add(c));
                continue;
            }
            var text = b switch { TextBlock t => t.Text, GuardContentBlock g => g.Text, _ => null };
            if (text is null) continue;
            if (hasText) sb.Append('\n');
            else if (markers is not null && sb.Length == 0) sb.Append(markers.Start);
            sb.Append(text);
            hasText = true;
        }
        return hasText ? sb.ToString() : "";
    }

    private static string ToolResultText(ToolResultBlock r)
    {
        var sb = new StringBuilder();
        foreach (var c in r.Content)
        {
            var piece = c switch
            {
                ToolResultText t => t.Text,
                ToolResultJson j => j.Json.GetRawText(),
                _ => throw BasaltException.Validation("Tool results for the local engine must be text or JSON; remove image and document results."),
            };
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(piece);
        }
        return sb.ToString();
    }

    private static string ToolJson(ToolSpecification t)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", t.Name);
            if (t.Description is not null)
                w.WriteString("description", t.Description);
            w.WritePropertyName("parameters");
            t.InputSchema.WriteTo(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Mistral's templates insist on 9-character alphanumeric ids; map other ids to a stable one.</summary>
    private static string ToolCallId(string id, ToolCallFormat format)
    {
        if (format != ToolCallFormat.Mistral || (id.Length == MistralToolCallIdLength && IsAlphanumeric(id)))
            return id;
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(id));
        var chars = new char[MistralToolCallIdLength];
        for (var i = 0; i < chars.Length; i++)
            chars[i] = alphabet[hash[i] % alphabet.Length];
        return new string(chars);
    }

    private static bool IsAlphanumeric(string s)
    {
        foreach (var c in s)
            if (!char.IsAsciiLetterOrDigit(c)) return false;
        return true;
    }

    /// <summary>additionalModelRequestFields.chat_template_kwargs (as vLLM names it) become template variables, e.g. enable_thinking.</summary>
    private static Dictionary<string, object?>? TemplateVariables(JsonElement? fields)
    {
        if (fields is not { ValueKind: JsonValueKind.Object } f || !f.TryGetProperty("chat_template_kwargs", out var kwargs))
            return null;
        if (kwargs.ValueKind != JsonValueKind.Object)
            throw BasaltException.Validation("additionalModelRequestFields.chat_template_kwargs must be an object.");
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in kwargs.EnumerateObject())
            variables[p.Name] = p.Value.Clone();
        return variables;
    }

    /// <summary>Sampling settings from inferenceConfig and additionalModelRequestFields (top_k, min_p, repeat_penalty,
    /// frequency_penalty, presence_penalty), with maxTokens capped by the room left in the context.</summary>
    public static LocalSampling Sampling(ConverseRequest request, int room)
    {
        var ic = request.InferenceConfig;
        if (ic?.MaxTokens is < 1)
            throw BasaltException.Validation("inferenceConfig.maxTokens must be at least 1.");
        if (ic?.Temperature is < 0)
            throw BasaltException.Validation("inferenceConfig.temperature cannot be negative.");
        if (ic?.TopP is < 0 or > 1)
            throw BasaltException.Validation("inferenceConfig.topP must be between 0 and 1.");
        var fields = request.AdditionalModelRequestFields is { ValueKind: JsonValueKind.Object } f ? f : default;
        return new LocalSampling
        {
            MaxTokens = Math.Min(ic?.MaxTokens ?? room, room),
            Temperature = ic?.Temperature,
            TopP = ic?.TopP,
            Seed = ic?.Seed,
            TopK = Number(fields, "top_k") is { } k ? (int)k : null,
            MinP = Number(fields, "min_p") is { } mp ? (float)mp : null,
            RepetitionPenalty = Number(fields, "repeat_penalty") is { } rp ? (float)rp : null,
            FrequencyPenalty = Number(fields, "frequency_penalty") is { } fp ? (float)fp : null,
            PresencePenalty = Number(fields, "presence_penalty") is { } pp ? (float)pp : null,
        };
    }

    private static double? Number(JsonElement fields, string name)
    {
        if (fields.ValueKind != JsonValueKind.Object || !fields.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            return null;
        if (v.ValueKind != JsonValueKind.Number)
            throw BasaltException.Validation($"additionalModelRequestFields.{name} must be a number.");
        return v.GetDouble();
    }
}
