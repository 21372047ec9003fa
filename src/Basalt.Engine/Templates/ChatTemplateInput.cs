namespace Basalt.Engine.Templates;

/// <summary>One message as chat templates see it: role, content, and optional tool calls or tool result id.</summary>
public sealed record ChatMessage(string Role, string? Content)
{
    /// <summary>Tool calls made by an assistant message, or null.</summary>
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>For a "tool" message: the id of the call this is the result of.</summary>
    public string? ToolCallId { get; init; }

    /// <summary>For a "tool" message: the name of the tool that produced it.</summary>
    public string? Name { get; init; }

    /// <summary>An assistant message's reasoning (Qwen3's reasoning_content), or null.</summary>
    public string? ReasoningContent { get; init; }
}

/// <summary>A tool call in a message: id, function name and arguments as a JSON text (an object, normally).</summary>
public sealed record ChatToolCall(string Id, string Name, string ArgumentsJson);

/// <summary>Everything a chat template is rendered with.</summary>
public sealed record ChatTemplateInput
{
    /// <summary>The conversation, system message first when there is one.</summary>
    public IReadOnlyList<ChatMessage> Messages { get; init; } = [];

    /// <summary>Tools as JSON texts in the OpenAI shape ({"type": "function", "function": {"name", "description", "parameters"}}),
    /// or null when the caller offers none (templates then see tools as undefined).</summary>
    public IReadOnlyList<string>? Tools { get; init; }

    /// <summary>End the prompt with the assistant turn's opening (add_generation_prompt).</summary>
    public bool AddGenerationPrompt { get; init; } = true;

    /// <summary>The model's BOS token text (bos_token).</summary>
    public string BosToken { get; init; } = "";

    /// <summary>The model's EOS token text (eos_token).</summary>
    public string EosToken { get; init; } = "";

    /// <summary>Extra variables (enable_thinking, date_string, ...): string, bool, numbers, JsonElement, lists or dictionaries.</summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }

    /// <summary>The time strftime_now reports; the current local time when null.</summary>
    public DateTime? Now { get; init; }
}
