using System.Text.Json;

namespace Basalt.Engine.Templates;

/// <summary>A parsed Jinja2 chat template (tokenizer.chat_template) that renders a conversation to prompt text
/// the way Hugging Face's apply_chat_template does.</summary>
public sealed class ChatTemplate
{
    private const string FallbackSource =
        "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}" +
        "{% if add_generation_prompt %}assistant:{% endif %}";

    private readonly List<JinjaNode> _body;

    private ChatTemplate(string source, List<JinjaNode> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>A plain "role: content" format ending with "assistant:", for models that ship no template.</summary>
    public static ChatTemplate Fallback { get; } = Parse(FallbackSource);

    /// <summary>Parses template source; throws <see cref="TemplateException"/> naming the line of an unsupported or malformed construct.</summary>
    public static ChatTemplate Parse(string jinjaSource)
    {
        ArgumentNullException.ThrowIfNull(jinjaSource);
        return new ChatTemplate(jinjaSource, JinjaParser.Parse(jinjaSource));
    }

    /// <summary>Renders the conversation; throws <see cref="TemplateException"/> when the template rejects it
    /// (its raise_exception) or fails.</summary>
    public string Render(ChatTemplateInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (input.Variables is not null)
            foreach (var (k, v) in input.Variables)
                variables[k] = JinjaValue.FromClr(v);
        variables["messages"] = ToMessages(input.Messages);
        if (input.Tools is { Count: > 0 } tools)
        {
            var list = new List<object?>(tools.Count);
            foreach (var tool in tools)
                list.Add(ParseJson(tool, "tool definition"));
            variables["tools"] = list;
        }
        variables["add_generation_prompt"] = input.AddGenerationPrompt;
        variables["bos_token"] = input.BosToken;
        variables["eos_token"] = input.EosToken;
        return JinjaInterpreter.Render(_body, variables, input.Now ?? DateTime.Now);
    }

    private static List<object?> ToMessages(IReadOnlyList<ChatMessage> messages)
    {
        var list = new List<object?>(messages.Count);
        foreach (var m in messages)
        {
            var d = new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["role"] = m.Role,
                ["content"] = m.Content,
            };
            if (m.ToolCalls is { Count: > 0 } calls)
            {
                var callList = new List<object?>(calls.Count);
                foreach (var c in calls)
                {
                    callList.Add(new Dictionary<string, object?>(StringComparer.Ordinal)
                    {
                        ["id"] = c.Id,
                        ["type"] = "function",
                        ["function"] = new Dictionary<string, object?>(StringComparer.Ordinal)
                        {
                            ["name"] = c.Name,
                            // Templates expect arguments as a mapping (they apply tojson); keep a non-JSON text as text.
                            ["arguments"] = TryParseJson(c.ArgumentsJson, out var args) ? args : c.ArgumentsJson,
                        },
                    });
                }
                d["tool_calls"] = callList;
            }
            if (m.ToolCallId is not null)
                d["tool_call_id"] = m.ToolCallId;
            if (m.Name is not null)
                d["name"] = m.Name;
            if (m.ReasoningContent is not null)
                d["reasoning_content"] = m.ReasoningContent;
            list.Add(d);
        }
        return list;
    }

    private static bool TryParseJson(string text, out object? value)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            value = JinjaValue.FromJson(doc.RootElement);
            return true;
        }
        catch (JsonException)
        {
            value = null;
            return false;
        }
    }

    private static object? ParseJson(string text, string what)
        => TryParseJson(text, out var value) ? value : throw new TemplateException($"The {what} is not valid JSON.");
}
