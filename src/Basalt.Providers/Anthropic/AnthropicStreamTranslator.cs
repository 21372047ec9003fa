using System.Text.Json;
using Basalt.Core.Conversation;
using Basalt.Core.Providers;

namespace Basalt.Providers.Anthropic;

/// <summary>Turns Anthropic's streamed events (message_start, content_block_start/delta/stop, message_delta,
/// message_stop, ping, error) into native stream events; the two orders match block for block.</summary>
internal sealed class AnthropicStreamTranslator(string provider)
{
    private TokenUsage? _usage;
    private StopReason _stop = StopReason.EndTurn;
    private bool _started;

    /// <summary>True once message_stop arrived.</summary>
    public bool Done { get; private set; }

    /// <summary>Translates one event's data, appending the events it produces.</summary>
    public void Feed(JsonElement data, List<ConverseStreamEvent> output)
    {
        switch (AnthropicMapping.Str(data, "type"))
        {
            case "message_start":
                _started = true;
                if (data.TryGetProperty("message", out var message) && message.TryGetProperty("usage", out var startUsage))
                    _usage = AnthropicMapping.ParseUsage(startUsage, null);
                output.Add(new MessageStartEvent(ConversationRole.Assistant));
                break;
            case "content_block_start":
            {
                var index = Index(data);
                var block = data.GetProperty("content_block");
                if (AnthropicMapping.Str(block, "type") == "tool_use")
                    output.Add(new ContentBlockStartEvent(index, AnthropicMapping.Str(block, "id") ?? "", AnthropicMapping.Str(block, "name") ?? ""));
                break;
            }
            case "content_block_delta":
            {
                var index = Index(data);
                var delta = data.GetProperty("delta");
                ContentDelta? native = AnthropicMapping.Str(delta, "type") switch
                {
                    "text_delta" => new TextDelta(AnthropicMapping.Str(delta, "text") ?? ""),
                    "input_json_delta" => new ToolUseDelta(AnthropicMapping.Str(delta, "partial_json") ?? ""),
                    "thinking_delta" => new ReasoningDelta(AnthropicMapping.Str(delta, "thinking") ?? ""),
                    "signature_delta" => new ReasoningDelta(null, AnthropicMapping.Str(delta, "signature")),
                    _ => null,
                };
                if (native is not null)
                    output.Add(new ContentBlockDeltaEvent(index, native));
                break;
            }
            case "content_block_stop":
                output.Add(new ContentBlockStopEvent(Index(data)));
                break;
            case "message_delta":
                if (data.TryGetProperty("delta", out var messageDelta) && AnthropicMapping.Str(messageDelta, "stop_reason") is { } reason)
                    _stop = AnthropicMapping.StopReasonOf(reason);
                if (data.TryGetProperty("usage", out var deltaUsage))
                    _usage = AnthropicMapping.ParseUsage(deltaUsage, _usage);
                break;
            case "message_stop":
                Done = true;
                break;
            case "error":
            {
                data.TryGetProperty("error", out var error);
                var kind = AnthropicMapping.ErrorKindOf(AnthropicMapping.Str(error, "type"));
                var ex = new BasaltException(kind, $"The upstream provider '{provider}' failed mid-stream: {AnthropicMapping.Str(error, "message") ?? error.GetRawText()}");
                throw UpstreamError.Mark(ex, kind is ErrorKind.Throttling or ErrorKind.ServiceUnavailable);
            }
        }
    }

    /// <summary>Ends the message with MessageStop and Metadata.</summary>
    public void Finish(long latencyMs, List<ConverseStreamEvent> output)
    {
        if (!_started)
            throw UpstreamError.Malformed(provider, "a stream that ended before message_start");
        output.Add(new MessageStopEvent(_stop));
        output.Add(new MetadataEvent(_usage ?? new TokenUsage(0, 0), latencyMs));
    }

    private static int Index(JsonElement data) => data.TryGetProperty("index", out var i) && i.TryGetInt32(out var v) ? v : 0;
}
