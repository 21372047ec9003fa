using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Providers.OpenAi;

/// <summary>Turns chat.completion.chunk objects into native stream events in ConverseStream order: one content block
/// per run of text, reasoning or one tool call; MessageStop and Metadata once the upstream is done (usage arrives last).</summary>
internal sealed class OpenAiStreamTranslator(string provider)
{
    private enum BlockKind { None, Text, Reasoning, Tool }

    private readonly Dictionary<int, int> _toolBlocks = [];
    private bool _started;
    private int _nextIndex;
    private int _openIndex = -1;
    private BlockKind _openKind;
    private StopReason? _stop;
    private TokenUsage? _usage;

    /// <summary>Translates one chunk, appending the events it produces.</summary>
    public void Feed(JsonElement chunk, List<ConverseStreamEvent> output)
    {
        if (chunk.TryGetProperty("error", out var error))
            throw new BasaltException(ErrorKind.ModelError,
                $"The upstream provider '{provider}' failed mid-stream: {OpenAiMapping.Str(error, "message") ?? error.GetRawText()}");
        Start(output);
        if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            _usage = OpenAiMapping.ParseUsage(usage);
        if (!chunk.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0)
            return;
        var choice = choices[0];
        if (choice.TryGetProperty("delta", out var delta) && delta.ValueKind == JsonValueKind.Object)
        {
            if (OpenAiMapping.Str(delta, "reasoning_content") is { Length: > 0 } reasoning)
                output.Add(new ContentBlockDeltaEvent(Open(BlockKind.Reasoning, output), new ReasoningDelta(reasoning)));
            if (OpenAiMapping.Str(delta, "content") is { Length: > 0 } text)
                output.Add(new ContentBlockDeltaEvent(Open(BlockKind.Text, output), new TextDelta(text)));
            if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                foreach (var call in calls.EnumerateArray())
                    ToolCall(call, output);
        }
        if (OpenAiMapping.Str(choice, "finish_reason") is { } finish)
        {
            _stop = OpenAiMapping.FinishReason(finish, choice);
            Close(output);
        }
    }

    /// <summary>Ends the message: closes the open block, then MessageStop and Metadata.</summary>
    public void Finish(long latencyMs, List<ConverseStreamEvent> output)
    {
        Start(output);
        Close(output);
        output.Add(new MessageStopEvent(_stop ?? StopReason.EndTurn));
        output.Add(new MetadataEvent(_usage ?? new TokenUsage(0, 0), latencyMs));
    }

    private void ToolCall(JsonElement call, List<ConverseStreamEvent> output)
    {
        var toolIndex = OpenAiMapping.Int(call, "index");
        call.TryGetProperty("function", out var function);
        if (!_toolBlocks.TryGetValue(toolIndex, out var block))
        {
            Close(output);
            block = _nextIndex++;
            _toolBlocks[toolIndex] = block;
            _openIndex = block;
            _openKind = BlockKind.Tool;
            output.Add(new ContentBlockStartEvent(block, OpenAiMapping.Str(call, "id") ?? $"call_{toolIndex}", OpenAiMapping.Str(function, "name") ?? ""));
        }
        if (OpenAiMapping.Str(function, "arguments") is { Length: > 0 } arguments)
            output.Add(new ContentBlockDeltaEvent(block, new ToolUseDelta(arguments)));
    }

    private void Start(List<ConverseStreamEvent> output)
    {
        if (_started)
            return;
        _started = true;
        output.Add(new MessageStartEvent(ConversationRole.Assistant));
    }

    private int Open(BlockKind kind, List<ConverseStreamEvent> output)
    {
        if (_openKind == kind)
            return _openIndex;
        Close(output);
        _openIndex = _nextIndex++;
        _openKind = kind;
        return _openIndex;
    }

    private void Close(List<ConverseStreamEvent> output)
    {
        if (_openKind == BlockKind.None)
            return;
        output.Add(new ContentBlockStopEvent(_openIndex));
        _openKind = BlockKind.None;
    }
}
