using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace Basalt.Core.Aws;

/// <summary>Incremental application/vnd.amazon.eventstream decoder: append bytes as they arrive, then read
/// whole messages. Every length is checked before it is used; a corrupt frame throws
/// <see cref="EventStreamFormatException"/> and the decoder stays failed.</summary>
public sealed class EventStreamDecoder : IDisposable
{
    private const int InitialBufferBytes = 4096;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferBytes);
    private int _start;
    private int _end;
    private string? _failure;

    /// <summary>Bytes received but not yet returned as a message.</summary>
    public int BufferedBytes => _end - _start;

    /// <summary>Adds received bytes.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        ThrowIfFailed();
        if (data.IsEmpty)
            return;
        if (_buffer.Length - _end < data.Length)
            MakeRoom(data.Length);
        data.CopyTo(_buffer.AsSpan(_end));
        _end += data.Length;
    }

    /// <summary>Returns the next complete message, or false when more bytes are needed.</summary>
    public bool TryRead(out EventStreamMessage message)
    {
        ThrowIfFailed();
        message = null!;
        var available = _buffer.AsSpan(_start, _end - _start);
        if (available.Length < EventStreamLimits.PreludeBytes)
            return false;
        try
        {
            var total = ReadPrelude(available, out var headersLength);
            if (available.Length < total)
                return false;
            message = ParseMessage(available[..total], headersLength);
            _start += total;
            if (_start == _end)
                _start = _end = 0;
            return true;
        }
        catch (EventStreamFormatException e)
        {
            _failure = e.Message;
            throw;
        }
    }

    /// <summary>Decodes exactly one message from a complete frame.</summary>
    public static EventStreamMessage DecodeOne(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EventStreamLimits.PreludeBytes)
            throw new EventStreamFormatException($"The frame is {frame.Length} bytes; a prelude alone is {EventStreamLimits.PreludeBytes}.");
        var total = ReadPrelude(frame, out var headersLength);
        if (frame.Length != total)
            throw new EventStreamFormatException($"The prelude says the message is {total} bytes but the frame holds {frame.Length}.");
        return ParseMessage(frame, headersLength);
    }

    /// <summary>Reads every message of a stream until it ends; a stream ending inside a message throws.</summary>
    public static async IAsyncEnumerable<EventStreamMessage> ReadAllAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var decoder = new EventStreamDecoder();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    break;
                decoder.Append(chunk.AsSpan(0, n));
                while (decoder.TryRead(out var message))
                    yield return message;
            }
            decoder.Complete();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    /// <summary>Declares the input finished; throws when a partial message is left over.</summary>
    public void Complete()
    {
        ThrowIfFailed();
        if (BufferedBytes != 0)
            throw new EventStreamFormatException($"The stream ended inside a message ({BufferedBytes} bytes of an incomplete frame).");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _start = _end = 0;
        _failure ??= "The decoder is disposed.";
        if (buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(buffer);
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
            throw new EventStreamFormatException("The event stream is unusable after an earlier error: " + _failure);
    }

    private void MakeRoom(int needed)
    {
        var live = _end - _start;
        var required = live + needed;
        if (required <= _buffer.Length)
        {
            _buffer.AsSpan(_start, live).CopyTo(_buffer);
        }
        else
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(required, _buffer.Length * 2));
            _buffer.AsSpan(_start, live).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        _start = 0;
        _end = live;
    }

    private static int ReadPrelude(ReadOnlySpan<byte> data, out int headersLength)
    {
        var total = BinaryPrimitives.ReadUInt32BigEndian(data);
        var headers = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        var expected = BinaryPrimitives.ReadUInt32BigEndian(data[8..]);
        var actual = Crc32.Compute(data[..8]);
        if (actual != expected)
            throw new EventStreamFormatException($"Prelude checksum mismatch (expected 0x{expected:X8}, computed 0x{actual:X8}).");
        if (total < EventStreamLimits.MinMessageBytes)
            throw new EventStreamFormatException($"The message length {total} is shorter than the {EventStreamLimits.MinMessageBytes}-byte minimum.");
        if (total > EventStreamLimits.MaxMessageBytes)
            throw new EventStreamFormatException($"The message length {total} exceeds the {EventStreamLimits.MaxMessageBytes}-byte limit.");
        if (headers > EventStreamLimits.MaxHeadersBytes)
            throw new EventStreamFormatException($"The headers length {headers} exceeds the {EventStreamLimits.MaxHeadersBytes}-byte limit.");
        if (headers > total - EventStreamLimits.MinMessageBytes)
            throw new EventStreamFormatException($"The headers length {headers} does not fit in a {total}-byte message.");
        headersLength = (int)headers;
        return (int)total;
    }

    private static EventStreamMessage ParseMessage(ReadOnlySpan<byte> frame, int headersLength)
    {
        var crcAt = frame.Length - EventStreamLimits.MessageCrcBytes;
        var expected = BinaryPrimitives.ReadUInt32BigEndian(frame[crcAt..]);
        var actual = Crc32.Compute(frame[..crcAt]);
        if (actual != expected)
            throw new EventStreamFormatException($"Message checksum mismatch (expected 0x{expected:X8}, computed 0x{actual:X8}).");
        var headersEnd = EventStreamLimits.PreludeBytes + headersLength;
        var headers = ParseHeaders(frame[EventStreamLimits.PreludeBytes..headersEnd]);
        var payload = frame[headersEnd..crcAt].ToArray();
        return new EventStreamMessage(headers, payload);
    }

    private static List<EventStreamHeader> ParseHeaders(ReadOnlySpan<byte> data)
    {
        var headers = new List<EventStreamHeader>(4);
        var at = 0;
        while (at < data.Length)
        {
            var nameLength = data[at++];
            if (nameLength == 0)
                throw new EventStreamFormatException($"A header at offset {at - 1} has an empty name.");
            Need(data, at, nameLength + 1, "header name and type");
            var name = Utf8(data.Slice(at, nameLength), "header name");
            at += nameLength;
            var type = (EventStreamHeaderType)data[at++];
            EventStreamHeaderValue value;
            switch (type)
            {
                case EventStreamHeaderType.BoolTrue:
                    value = EventStreamHeaderValue.FromBool(true);
                    break;
                case EventStreamHeaderType.BoolFalse:
                    value = EventStreamHeaderValue.FromBool(false);
                    break;
                case EventStreamHeaderType.Byte:
                    Need(data, at, 1, name);
                    value = EventStreamHeaderValue.FromByte((sbyte)data[at]);
                    at += 1;
                    break;
                case EventStreamHeaderType.Short:
                    Need(data, at, 2, name);
                    value = EventStreamHeaderValue.FromShort(BinaryPrimitives.ReadInt16BigEndian(data[at..]));
                    at += 2;
                    break;
                case EventStreamHeaderType.Int:
                    Need(data, at, 4, name);
                    value = EventStreamHeaderValue.FromInt(BinaryPrimitives.ReadInt32BigEndian(data[at..]));
                    at += 4;
                    break;
                case EventStreamHeaderType.Long:
                    Need(data, at, 8, name);
                    value = EventStreamHeaderValue.FromLong(BinaryPrimitives.ReadInt64BigEndian(data[at..]));
                    at += 8;
                    break;
                case EventStreamHeaderType.Timestamp:
                    Need(data, at, 8, name);
                    value = EventStreamHeaderValue.FromTimestampMilliseconds(BinaryPrimitives.ReadInt64BigEndian(data[at..]));
                    at += 8;
                    break;
                case EventStreamHeaderType.Uuid:
                    Need(data, at, 16, name);
                    value = EventStreamHeaderValue.FromUuid(new Guid(data.Slice(at, 16), bigEndian: true));
                    at += 16;
                    break;
                case EventStreamHeaderType.ByteArray:
                case EventStreamHeaderType.String:
                    Need(data, at, 2, name);
                    int length = BinaryPrimitives.ReadUInt16BigEndian(data[at..]);
                    at += 2;
                    Need(data, at, length, name);
                    var raw = data.Slice(at, length);
                    value = type == EventStreamHeaderType.String
                        ? EventStreamHeaderValue.FromString(Utf8(raw, $"value of header '{name}'"))
                        : EventStreamHeaderValue.FromBytes(raw.ToArray());
                    at += length;
                    break;
                default:
                    throw new EventStreamFormatException($"Header '{name}' has unknown value type {(byte)type}.");
            }
            foreach (var h in headers)
                if (string.Equals(h.Name, name, StringComparison.Ordinal))
                    throw new EventStreamFormatException($"Header '{name}' appears twice.");
            headers.Add(new EventStreamHeader(name, value));
        }
        return headers;
    }

    private static void Need(ReadOnlySpan<byte> data, int at, int count, string what)
    {
        if (data.Length - at < count)
            throw new EventStreamFormatException($"The headers end inside {what} (needed {count} bytes at offset {at}, {data.Length - at} left).");
    }

    private static string Utf8(ReadOnlySpan<byte> bytes, string what)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new EventStreamFormatException($"The {what} is not valid UTF-8.");
        }
    }
}
