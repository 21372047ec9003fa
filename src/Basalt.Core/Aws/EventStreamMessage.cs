using System.Text;

namespace Basalt.Core.Aws;

/// <summary>The value types of an event-stream header, with their wire type codes.</summary>
public enum EventStreamHeaderType : byte
{
    /// <summary>Boolean true (no value bytes).</summary>
    BoolTrue = 0,
    /// <summary>Boolean false (no value bytes).</summary>
    BoolFalse = 1,
    /// <summary>Signed 8-bit integer.</summary>
    Byte = 2,
    /// <summary>Signed 16-bit integer, big-endian.</summary>
    Short = 3,
    /// <summary>Signed 32-bit integer, big-endian.</summary>
    Int = 4,
    /// <summary>Signed 64-bit integer, big-endian.</summary>
    Long = 5,
    /// <summary>Bytes with a 16-bit length prefix.</summary>
    ByteArray = 6,
    /// <summary>UTF-8 text with a 16-bit length prefix.</summary>
    String = 7,
    /// <summary>Milliseconds since the Unix epoch, signed 64-bit big-endian.</summary>
    Timestamp = 8,
    /// <summary>A 16-byte UUID.</summary>
    Uuid = 9,
}

/// <summary>One typed header value; integers, booleans and timestamps share <see cref="Integer"/>.</summary>
public readonly record struct EventStreamHeaderValue
{
    private EventStreamHeaderValue(EventStreamHeaderType type, long integer, ReadOnlyMemory<byte> bytes, string? text, Guid uuid)
    {
        Type = type;
        Integer = integer;
        Bytes = bytes;
        Text = text;
        Uuid = uuid;
    }

    /// <summary>The wire type.</summary>
    public EventStreamHeaderType Type { get; }

    /// <summary>The value of Byte, Short, Int, Long and Timestamp (milliseconds) headers.</summary>
    public long Integer { get; }

    /// <summary>The value of a ByteArray header.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The value of a String header.</summary>
    public string? Text { get; }

    /// <summary>The value of a Uuid header.</summary>
    public Guid Uuid { get; }

    /// <summary>True for BoolTrue, false for BoolFalse.</summary>
    public bool Boolean => Type == EventStreamHeaderType.BoolTrue;

    /// <summary>A boolean header.</summary>
    public static EventStreamHeaderValue FromBool(bool value) => new(value ? EventStreamHeaderType.BoolTrue : EventStreamHeaderType.BoolFalse, 0, default, null, default);

    /// <summary>A signed byte header.</summary>
    public static EventStreamHeaderValue FromByte(sbyte value) => new(EventStreamHeaderType.Byte, value, default, null, default);

    /// <summary>A 16-bit integer header.</summary>
    public static EventStreamHeaderValue FromShort(short value) => new(EventStreamHeaderType.Short, value, default, null, default);

    /// <summary>A 32-bit integer header.</summary>
    public static EventStreamHeaderValue FromInt(int value) => new(EventStreamHeaderType.Int, value, default, null, default);

    /// <summary>A 64-bit integer header.</summary>
    public static EventStreamHeaderValue FromLong(long value) => new(EventStreamHeaderType.Long, value, default, null, default);

    /// <summary>A byte array header.</summary>
    public static EventStreamHeaderValue FromBytes(ReadOnlyMemory<byte> value) => new(EventStreamHeaderType.ByteArray, 0, value, null, default);

    /// <summary>A string header.</summary>
    public static EventStreamHeaderValue FromString(string value) => new(EventStreamHeaderType.String, 0, default, value ?? throw new ArgumentNullException(nameof(value)), default);

    /// <summary>A timestamp header, stored as milliseconds since the Unix epoch.</summary>
    public static EventStreamHeaderValue FromTimestamp(DateTimeOffset value) => new(EventStreamHeaderType.Timestamp, value.ToUnixTimeMilliseconds(), default, null, default);

    /// <summary>A timestamp header from raw milliseconds since the Unix epoch.</summary>
    public static EventStreamHeaderValue FromTimestampMilliseconds(long value) => new(EventStreamHeaderType.Timestamp, value, default, null, default);

    /// <summary>A UUID header.</summary>
    public static EventStreamHeaderValue FromUuid(Guid value) => new(EventStreamHeaderType.Uuid, 0, default, null, value);

    /// <summary>The timestamp of a Timestamp header.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(Integer);

    /// <summary>Value equality that compares byte arrays by content.</summary>
    public bool Equals(EventStreamHeaderValue other)
        => Type == other.Type && Integer == other.Integer && Text == other.Text && Uuid == other.Uuid
           && Bytes.Span.SequenceEqual(other.Bytes.Span);

    /// <summary>Hash consistent with <see cref="Equals(EventStreamHeaderValue)"/>.</summary>
    public override int GetHashCode() => HashCode.Combine(Type, Integer, Text, Uuid, Bytes.Length);

    /// <summary>A readable rendering for diagnostics.</summary>
    public override string ToString() => Type switch
    {
        EventStreamHeaderType.BoolTrue => "true",
        EventStreamHeaderType.BoolFalse => "false",
        EventStreamHeaderType.ByteArray => "0x" + Convert.ToHexString(Bytes.Span),
        EventStreamHeaderType.String => Text!,
        EventStreamHeaderType.Timestamp => Timestamp.ToString("O"),
        EventStreamHeaderType.Uuid => Uuid.ToString(),
        _ => Integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>A named header of an event-stream message.</summary>
public readonly record struct EventStreamHeader(string Name, EventStreamHeaderValue Value)
{
    /// <summary>A string header.</summary>
    public static EventStreamHeader String(string name, string value) => new(name, EventStreamHeaderValue.FromString(value));
}

/// <summary>One application/vnd.amazon.eventstream message: headers and a payload.</summary>
public sealed class EventStreamMessage(IReadOnlyList<EventStreamHeader> headers, ReadOnlyMemory<byte> payload)
{
    /// <summary>Headers in wire order.</summary>
    public IReadOnlyList<EventStreamHeader> Headers { get; } = headers ?? throw new ArgumentNullException(nameof(headers));

    /// <summary>The payload bytes.</summary>
    public ReadOnlyMemory<byte> Payload { get; } = payload;

    /// <summary>The value of the named header, or null.</summary>
    public EventStreamHeaderValue? Header(string name)
    {
        foreach (var h in Headers)
            if (string.Equals(h.Name, name, StringComparison.Ordinal))
                return h.Value;
        return null;
    }

    /// <summary>The text of the named string header, or null.</summary>
    public string? StringHeader(string name) => Header(name) is { Type: EventStreamHeaderType.String } v ? v.Text : null;

    /// <summary>The payload as UTF-8 text.</summary>
    public string PayloadText => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>A frame that breaks the event-stream format: bad CRC, impossible lengths, truncated or unknown header data.</summary>
public sealed class EventStreamFormatException(string message) : Exception(message);

/// <summary>Limits of the event-stream format that protect readers; the values are those of awslabs' aws-c-event-stream.</summary>
public static class EventStreamLimits
{
    /// <summary>Bytes of the prelude: total length, headers length, prelude CRC.</summary>
    public const int PreludeBytes = 12;

    /// <summary>Bytes of the trailing message CRC.</summary>
    public const int MessageCrcBytes = 4;

    /// <summary>The smallest possible message: prelude and message CRC, no headers, no payload.</summary>
    public const int MinMessageBytes = PreludeBytes + MessageCrcBytes;

    /// <summary>Largest message accepted or produced (16 MiB).</summary>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    /// <summary>Largest headers section accepted or produced (128 KiB).</summary>
    public const int MaxHeadersBytes = 128 * 1024;

    /// <summary>Longest header name, in UTF-8 bytes.</summary>
    public const int MaxHeaderNameBytes = 127;

    /// <summary>Longest string or byte-array header value, in bytes (16-bit length prefix).</summary>
    public const int MaxHeaderValueBytes = short.MaxValue;
}
