using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Basalt.Core.Aws;

/// <summary>Writes application/vnd.amazon.eventstream messages.</summary>
public static class EventStreamEncoder
{
    /// <summary>Encodes one message into <paramref name="output"/>; returns the bytes written.</summary>
    public static int Encode(IReadOnlyList<EventStreamHeader> headers, ReadOnlySpan<byte> payload, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(output);
        var headersLength = MeasureHeaders(headers);
        var total = (long)EventStreamLimits.MinMessageBytes + headersLength + payload.Length;
        if (total > EventStreamLimits.MaxMessageBytes)
            throw new EventStreamFormatException($"The message would be {total} bytes; the event-stream limit is {EventStreamLimits.MaxMessageBytes}.");
        var span = output.GetSpan((int)total)[..(int)total];
        BinaryPrimitives.WriteInt32BigEndian(span, (int)total);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], headersLength);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], Crc32.Compute(span[..8]));
        var at = EventStreamLimits.PreludeBytes;
        foreach (var h in headers)
            at += WriteHeader(span[at..], h);
        payload.CopyTo(span[at..]);
        at += payload.Length;
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], Crc32.Compute(span[..at]));
        output.Advance((int)total);
        return (int)total;
    }

    /// <summary>Encodes one message into a new array.</summary>
    public static byte[] Encode(EventStreamMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var buffer = new ArrayBufferWriter<byte>(EventStreamLimits.MinMessageBytes + message.Payload.Length + 128);
        Encode(message.Headers, message.Payload.Span, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static int MeasureHeaders(IReadOnlyList<EventStreamHeader> headers)
    {
        long length = 0;
        for (var i = 0; i < headers.Count; i++)
        {
            var h = headers[i];
            var nameBytes = Encoding.UTF8.GetByteCount(h.Name ?? throw new EventStreamFormatException($"Header {i} has no name."));
            if (nameBytes is 0 or > EventStreamLimits.MaxHeaderNameBytes)
                throw new EventStreamFormatException($"Header name '{h.Name}' is {nameBytes} bytes; names must be 1 to {EventStreamLimits.MaxHeaderNameBytes} bytes.");
            length += 1 + nameBytes + 1 + ValueLength(h);
        }
        if (length > EventStreamLimits.MaxHeadersBytes)
            throw new EventStreamFormatException($"The headers would be {length} bytes; the event-stream limit is {EventStreamLimits.MaxHeadersBytes}.");
        return (int)length;
    }

    private static int ValueLength(EventStreamHeader h)
    {
        var v = h.Value;
        switch (v.Type)
        {
            case EventStreamHeaderType.BoolTrue or EventStreamHeaderType.BoolFalse:
                return 0;
            case EventStreamHeaderType.Byte:
                return 1;
            case EventStreamHeaderType.Short:
                return 2;
            case EventStreamHeaderType.Int:
                return 4;
            case EventStreamHeaderType.Long or EventStreamHeaderType.Timestamp:
                return 8;
            case EventStreamHeaderType.Uuid:
                return 16;
            case EventStreamHeaderType.ByteArray:
                return 2 + CheckValueLength(h.Name, v.Bytes.Length);
            case EventStreamHeaderType.String:
                return 2 + CheckValueLength(h.Name, Encoding.UTF8.GetByteCount(v.Text ?? ""));
            default:
                throw new EventStreamFormatException($"Header '{h.Name}' has unknown type {(byte)v.Type}.");
        }
    }

    private static int CheckValueLength(string name, int length)
        => length <= EventStreamLimits.MaxHeaderValueBytes
            ? length
            : throw new EventStreamFormatException($"Header '{name}' value is {length} bytes; the limit is {EventStreamLimits.MaxHeaderValueBytes}.");

    private static int WriteHeader(Span<byte> span, EventStreamHeader h)
    {
        var nameLength = Encoding.UTF8.GetBytes(h.Name, span[1..]);
        span[0] = (byte)nameLength;
        var at = 1 + nameLength;
        var v = h.Value;
        span[at++] = (byte)v.Type;
        switch (v.Type)
        {
            case EventStreamHeaderType.Byte:
                span[at++] = (byte)(sbyte)v.Integer;
                break;
            case EventStreamHeaderType.Short:
                BinaryPrimitives.WriteInt16BigEndian(span[at..], (short)v.Integer);
                at += 2;
                break;
            case EventStreamHeaderType.Int:
                BinaryPrimitives.WriteInt32BigEndian(span[at..], (int)v.Integer);
                at += 4;
                break;
            case EventStreamHeaderType.Long or EventStreamHeaderType.Timestamp:
                BinaryPrimitives.WriteInt64BigEndian(span[at..], v.Integer);
                at += 8;
                break;
            case EventStreamHeaderType.Uuid:
                v.Uuid.TryWriteBytes(span[at..], bigEndian: true, out _);
                at += 16;
                break;
            case EventStreamHeaderType.ByteArray:
                BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)v.Bytes.Length);
                v.Bytes.Span.CopyTo(span[(at + 2)..]);
                at += 2 + v.Bytes.Length;
                break;
            case EventStreamHeaderType.String:
                var n = Encoding.UTF8.GetBytes(v.Text ?? "", span[(at + 2)..]);
                BinaryPrimitives.WriteUInt16BigEndian(span[at..], (ushort)n);
                at += 2 + n;
                break;
        }
        return at;
    }
}
