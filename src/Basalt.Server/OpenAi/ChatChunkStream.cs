using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Basalt.Core.Conversation;

namespace Basalt.Server.OpenAi;

/// <summary>Turns native stream events into OpenAI chat.completion.chunk server-sent events, written straight into the
/// response pipe (one reused JSON writer; the caller flushes after each event).</summary>
internal sealed class ChatChunkStream : IDisposable
{
    private readonly PipeWriter _pipe;
    private readonly Utf8JsonWriter _json;
    private readonly string _id;
    private readonly long _created;
    private readonly string _model;
    private readonly bool _includeUsage;
    private Dictionary<int, int>? _toolCallByBlock;

    public ChatChunkStream(PipeWriter pipe, string id, long created, string model, bool includeUsage)
    {
        _pipe = pipe;
        _json = new Utf8JsonWriter(pipe, OpenAiErrorFormat.WriterOptions);
        _id = id;
        _created = created;
        _model = model;
        _includeUsage = includeUsage;
    }

    /// <summary>Writes the chunk of one native event; false when the event has no OpenAI counterpart.</summary>
    public bool Write(ConverseStreamEvent e)
    {
        switch (e)
        {
            case MessageStartEvent:
                BeginDelta();
                _json.WriteString("role"u8, "assistant"u8);
                _json.WriteString("content"u8, ""u8);
                EndDelta(null);
                return true;
            case ContentBlockStartEvent start:
                BeginToolCall(ToolCallIndex(start.ContentBlockIndex));
                _json.WriteString("id"u8, start.ToolUseId);
                _json.WriteString("type"u8, "function"u8);
                _json.WriteStartObject("function"u8);
                _json.WriteString("name"u8, start.ToolName);
                _json.WriteString("arguments"u8, ""u8);
                EndToolCall();
                return true;
            case ContentBlockDeltaEvent { Delta: TextDelta text }:
                BeginDelta();
                _json.WriteString("content"u8, text.Text);
                EndDelta(null);
                return true;
            case ContentBlockDeltaEvent { Delta: ToolUseDelta tool } delta:
                BeginToolCall(ToolCallIndex(delta.ContentBlockIndex));
                _json.WriteStartObject("function"u8);
                _json.WriteString("arguments"u8, tool.InputJsonFragment);
                EndToolCall();
                return true;
            case ContentBlockDeltaEvent { Delta: ReasoningDelta { Text: not null } reasoning }:
                BeginDelta();
                _json.WriteString("reasoning_content"u8, reasoning.Text);
                EndDelta(null);
                return true;
            case MessageStopEvent stop:
                BeginDelta();
                EndDelta(ChatResponseWriter.FinishReason(stop.StopReason));
                return true;
            case MetadataEvent metadata when _includeUsage:
                BeginChunk();
                _json.WriteStartArray("choices"u8);
                _json.WriteEndArray();
                ChatResponseWriter.WriteUsage(_json, metadata.Usage);
                EndChunk();
                return true;
            default:
                return false;
        }
    }

    /// <summary>Writes the closing data: [DONE] event.</summary>
    public void WriteDone() => _pipe.Write("data: [DONE]\n\n"u8);

    /// <summary>Writes an error event: the stream has started, so a status code can no longer tell the client.</summary>
    public void WriteError(string message, string type, string? code)
    {
        _pipe.Write("data: "u8);
        _json.Reset();
        OpenAiErrorFormat.WriteBody(_json, message, type, null, code);
        _json.Flush();
        _pipe.Write("\n\n"u8);
    }

    public void Dispose() => _json.Dispose();

    /// <summary>OpenAI numbers tool calls 0, 1, ... while Converse numbers every content block.</summary>
    private int ToolCallIndex(int contentBlockIndex)
    {
        _toolCallByBlock ??= [];
        if (!_toolCallByBlock.TryGetValue(contentBlockIndex, out var index))
        {
            index = _toolCallByBlock.Count;
            _toolCallByBlock[contentBlockIndex] = index;
        }
        return index;
    }

    private void BeginChunk()
    {
        _pipe.Write("data: "u8);
        _json.Reset();
        _json.WriteStartObject();
        _json.WriteString("id"u8, _id);
        _json.WriteString("object"u8, "chat.completion.chunk"u8);
        _json.WriteNumber("created"u8, _created);
        _json.WriteString("model"u8, _model);
    }

    private void EndChunk()
    {
        _json.WriteEndObject();
        _json.Flush();
        _pipe.Write("\n\n"u8);
    }

    private void BeginDelta()
    {
        BeginChunk();
        _json.WriteStartArray("choices"u8);
        _json.WriteStartObject();
        _json.WriteNumber("index"u8, 0);
        _json.WriteStartObject("delta"u8);
    }

    private void EndDelta(string? finishReason)
    {
        _json.WriteEndObject();
        _json.WriteNull("logprobs"u8);
        if (finishReason is null)
            _json.WriteNull("finish_reason"u8);
        else
            _json.WriteString("finish_reason"u8, finishReason);
        _json.WriteEndObject();
        _json.WriteEndArray();
        // With include_usage, OpenAI gives every chunk a usage member, null until the last.
        if (_includeUsage)
            _json.WriteNull("usage"u8);
        EndChunk();
    }

    private void BeginToolCall(int index)
    {
        BeginDelta();
        _json.WriteStartArray("tool_calls"u8);
        _json.WriteStartObject();
        _json.WriteNumber("index"u8, index);
    }

    private void EndToolCall()
    {
        _json.WriteEndObject(); // function
        _json.WriteEndObject(); // the tool call
        _json.WriteEndArray();
        EndDelta(null);
    }
}
