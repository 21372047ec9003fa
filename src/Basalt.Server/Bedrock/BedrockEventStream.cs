using System.Buffers;
using System.Text.Json;
using Basalt.Core.Aws;
using Microsoft.AspNetCore.Http;

namespace Basalt.Server.Bedrock;

/// <summary>Writes a response as application/vnd.amazon.eventstream frames, flushing after each event.
/// Usage: <see cref="BeginPayload"/>, write one JSON value, then send it as an event, a chunk or an exception.</summary>
internal sealed class BedrockEventStream(HttpResponse response, CancellationToken cancellationToken)
{
    /// <summary>The content type of an event-stream response.</summary>
    public const string ContentType = "application/vnd.amazon.eventstream";

    private static readonly EventStreamHeaderValue EventType = EventStreamHeaderValue.FromString("event");
    private static readonly EventStreamHeaderValue ExceptionType = EventStreamHeaderValue.FromString("exception");
    private static readonly EventStreamHeaderValue Json = EventStreamHeaderValue.FromString("application/json");

    private readonly ArrayBufferWriter<byte> _payload = new(512);
    private readonly ArrayBufferWriter<byte> _outer = new(512);
    private Utf8JsonWriter? _writer;
    private readonly Dictionary<string, EventStreamHeader[]> _eventHeaders = new(StringComparer.Ordinal);

    /// <summary>True once the 200 status and headers are committed.</summary>
    public bool Started => response.HasStarted;

    /// <summary>Commits the 200 response with the event-stream content type.</summary>
    public void Start()
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
    }

    /// <summary>Clears the payload buffer and returns a JSON writer over it.</summary>
    public Utf8JsonWriter BeginPayload()
    {
        _payload.ResetWrittenCount();
        if (_writer is null)
            _writer = new Utf8JsonWriter(_payload);
        else
            _writer.Reset(_payload);
        return _writer;
    }

    /// <summary>Sends the payload as an event of the given type (messageStart, contentBlockDelta, ...).</summary>
    public Task SendEventAsync(string eventType)
    {
        _writer!.Flush();
        return SendFramedAsync(eventType);
    }

    /// <summary>Sends the payload as an InvokeModelWithResponseStream chunk: {"bytes": base64(payload)}.</summary>
    public Task SendChunkAsync()
    {
        _writer!.Flush();
        _outer.ResetWrittenCount();
        using (var outer = new Utf8JsonWriter(_outer))
        {
            outer.WriteStartObject();
            outer.WriteBase64String("bytes", _payload.WrittenSpan);
            outer.WriteEndObject();
        }
        _payload.ResetWrittenCount();
        _outer.WrittenSpan.CopyTo(_payload.GetSpan(_outer.WrittenCount));
        _payload.Advance(_outer.WrittenCount);
        return SendFramedAsync("chunk");
    }

    /// <summary>Sends an exception event ({"message"} payload) that ends the stream.</summary>
    public Task SendExceptionAsync(string exceptionType, string message)
    {
        var w = BeginPayload();
        w.WriteStartObject();
        w.WriteString("message", message);
        w.WriteEndObject();
        w.Flush();
        EventStreamHeader[] headers =
        [
            new(":exception-type", EventStreamHeaderValue.FromString(exceptionType)),
            new(":content-type", Json),
            new(":message-type", ExceptionType),
        ];
        EventStreamEncoder.Encode(headers, _payload.WrittenSpan, response.BodyWriter);
        return FlushAsync();
    }

    private Task SendFramedAsync(string eventType)
    {
        if (!_eventHeaders.TryGetValue(eventType, out var headers))
        {
            headers =
            [
                new(":event-type", EventStreamHeaderValue.FromString(eventType)),
                new(":content-type", Json),
                new(":message-type", EventType),
            ];
            _eventHeaders[eventType] = headers;
        }
        EventStreamEncoder.Encode(headers, _payload.WrittenSpan, response.BodyWriter);
        return FlushAsync();
    }

    private async Task FlushAsync()
    {
        var result = await response.BodyWriter.FlushAsync(cancellationToken);
        if (result.IsCanceled || result.IsCompleted)
            cancellationToken.ThrowIfCancellationRequested();
    }
}
