using System.Buffers;
using Basalt.Core.Aws;

namespace Basalt.Core.Tests.Aws;

/// <summary>Byte vectors from the AWS SDKs' event-stream test suites (botocore / amazon-transcribe-streaming-sdk
/// tests/unit/test_eventstream.py, which mirror awslabs' aws-c-event-stream), written here as hex.</summary>
public sealed class EventStreamTests
{
    private const string EmptyMessage = "000000100000000005c248eb7d98c8ff";
    private const string Int8Header = "000000170000000729860158046279746502ffc2f869dc";
    private const string Int16Header = "0000001900000009710e923e0573686f727403ffffb27cb6cc";
    private const string Int32Header = "0000001d0000000d83e3f0e707696e746567657204ffffffff8b8e12eb";
    private const string Int64Header = "0000001e0000000e5d4adb8d046c6f6e6705ffffffffffffffff4bc232da";
    private const string PayloadNoHeaders = "0000001d00000000fd528c5a7b27666f6f273a27626172277dc3653936";
    private const string PayloadOneStringHeader = "0000003d0000002007fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1";
    private const string AllHeaderTypes = "000000620000005203b5cb9c0130000131010132020201330300030134040000000401350500000000000000050136060005627974657301370700047574663801380800000000000000080139093031323334353637383961626364656663353671";
    private const string ErrorMessage = "0000005200000042bf23637e0d3a6d6573736167652d747970650700056572726f720b3a6572726f722d636f6465070004636f64650e3a6572726f722d6d6573736167650700076d6573736167656b6cea3d";
    private const string TrueHeader = "000000160000000663e1187e047472756500f1e7bcd7";
    private const string TestPayload = "0000001c00000000c032a5ea74657374207061796c6f6164073645f9";
    private const string CorruptedHeadersLength = "0000003dff00010207fd83960c636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1";
    private const string CorruptedHeaders = "0000003d0000002007fd83960c636f6e74656e742b747970650700106170706c69636174696f6e2f6a736f6e7b27666f6f273a27626172277d8d9c08b1";
    private const string CorruptedLength = "0100001d00000000fd528c5a7b27666f6f273a27626172277dc3653936";
    private const string CorruptedPayload = "0000001d00000000fd528c5a7b27666f6f273a27626172278dc3653936";
    private const string DuplicateHeader = "00000024000000144bb982d00474657374046173646604746573740461736466f3f47563";

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Fact]
    public void DecodeOne_EmptyMessage_HasNoHeadersAndNoPayload()
    {
        var m = EventStreamDecoder.DecodeOne(Hex(EmptyMessage));
        Assert.Empty(m.Headers);
        Assert.Equal(0, m.Payload.Length);
    }

    [Theory]
    [InlineData(Int8Header, "byte", EventStreamHeaderType.Byte)]
    [InlineData(Int16Header, "short", EventStreamHeaderType.Short)]
    [InlineData(Int32Header, "integer", EventStreamHeaderType.Int)]
    [InlineData(Int64Header, "long", EventStreamHeaderType.Long)]
    public void DecodeOne_IntegerHeaderVector_ReadsMinusOne(string hex, string name, EventStreamHeaderType type)
    {
        var m = EventStreamDecoder.DecodeOne(Hex(hex));
        var h = Assert.Single(m.Headers);
        Assert.Equal(name, h.Name);
        Assert.Equal(type, h.Value.Type);
        Assert.Equal(-1, h.Value.Integer);
    }

    [Fact]
    public void DecodeOne_PayloadWithStringHeader_ReadsBoth()
    {
        var m = EventStreamDecoder.DecodeOne(Hex(PayloadOneStringHeader));
        Assert.Equal("application/json", m.StringHeader("content-type"));
        Assert.Equal("{'foo':'bar'}", m.PayloadText);
    }

    [Fact]
    public void DecodeOne_AllHeaderTypesVector_ReadsEveryType()
    {
        var m = EventStreamDecoder.DecodeOne(Hex(AllHeaderTypes));
        Assert.Equal(10, m.Headers.Count);
        Assert.True(m.Header("0")!.Value.Boolean);
        Assert.Equal(EventStreamHeaderType.BoolFalse, m.Header("1")!.Value.Type);
        Assert.Equal(2, m.Header("2")!.Value.Integer);
        Assert.Equal(3, m.Header("3")!.Value.Integer);
        Assert.Equal(4, m.Header("4")!.Value.Integer);
        Assert.Equal(5, m.Header("5")!.Value.Integer);
        Assert.Equal("bytes"u8.ToArray(), m.Header("6")!.Value.Bytes.ToArray());
        Assert.Equal("utf8", m.StringHeader("7"));
        Assert.Equal(EventStreamHeaderType.Timestamp, m.Header("8")!.Value.Type);
        Assert.Equal(8, m.Header("8")!.Value.Integer);
        var uuid = m.Header("9")!.Value;
        Assert.Equal(EventStreamHeaderType.Uuid, uuid.Type);
        var expected = new byte[16];
        uuid.Uuid.TryWriteBytes(expected, bigEndian: true, out _);
        Assert.Equal("0123456789abcdef"u8.ToArray(), expected);
    }

    [Theory]
    [InlineData(EmptyMessage)]
    [InlineData(Int8Header)]
    [InlineData(Int16Header)]
    [InlineData(Int32Header)]
    [InlineData(Int64Header)]
    [InlineData(PayloadNoHeaders)]
    [InlineData(PayloadOneStringHeader)]
    [InlineData(AllHeaderTypes)]
    [InlineData(ErrorMessage)]
    [InlineData(TrueHeader)]
    [InlineData(TestPayload)]
    public void Encode_DecodedVector_ReproducesTheSameBytes(string hex)
    {
        var bytes = Hex(hex);
        var reencoded = EventStreamEncoder.Encode(EventStreamDecoder.DecodeOne(bytes));
        Assert.Equal(hex, Convert.ToHexString(reencoded), ignoreCase: true);
    }

    [Fact]
    public void Encode_HeadersAndPayload_MatchesPublishedVector()
    {
        var message = new EventStreamMessage([EventStreamHeader.String("content-type", "application/json")], "{'foo':'bar'}"u8.ToArray());
        Assert.Equal(PayloadOneStringHeader, Convert.ToHexString(EventStreamEncoder.Encode(message)), ignoreCase: true);
    }

    [Theory]
    [InlineData(CorruptedHeadersLength, "Prelude checksum")]
    [InlineData(CorruptedHeaders, "Message checksum")]
    [InlineData(CorruptedLength, "Prelude checksum")]
    [InlineData(CorruptedPayload, "Message checksum")]
    [InlineData(DuplicateHeader, "appears twice")]
    public void DecodeOne_CorruptedVector_ThrowsFormatException(string hex, string reason)
    {
        var e = Assert.Throws<EventStreamFormatException>(() => EventStreamDecoder.DecodeOne(Hex(hex)));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void TryRead_AllVectorsByteByByte_YieldsEveryMessageInOrder()
    {
        string[] vectors = [EmptyMessage, Int8Header, Int16Header, Int32Header, Int64Header, PayloadNoHeaders, PayloadOneStringHeader, AllHeaderTypes, ErrorMessage];
        var all = vectors.SelectMany(Hex).ToArray();
        using var decoder = new EventStreamDecoder();
        var decoded = new List<EventStreamMessage>();
        foreach (var b in all)
        {
            decoder.Append([b]);
            while (decoder.TryRead(out var m))
                decoded.Add(m);
        }
        decoder.Complete();
        Assert.Equal(vectors.Length, decoded.Count);
        for (var i = 0; i < vectors.Length; i++)
            Assert.Equal(vectors[i], Convert.ToHexString(EventStreamEncoder.Encode(decoded[i])), ignoreCase: true);
    }

    [Fact]
    public void TryRead_PartialMessage_WaitsForTheRest()
    {
        var bytes = Hex(PayloadOneStringHeader);
        using var decoder = new EventStreamDecoder();
        decoder.Append(bytes.AsSpan(0, 20));
        Assert.False(decoder.TryRead(out _));
        decoder.Append(bytes.AsSpan(20));
        Assert.True(decoder.TryRead(out var m));
        Assert.Equal("{'foo':'bar'}", m.PayloadText);
        Assert.Equal(0, decoder.BufferedBytes);
    }

    [Fact]
    public void Complete_TruncatedStream_Throws()
    {
        var bytes = Hex(PayloadNoHeaders);
        using var decoder = new EventStreamDecoder();
        decoder.Append(bytes.AsSpan(0, bytes.Length - 1));
        Assert.False(decoder.TryRead(out _));
        Assert.Throws<EventStreamFormatException>(decoder.Complete);
    }

    [Fact]
    public void TryRead_AfterCorruptFrame_StaysFailed()
    {
        using var decoder = new EventStreamDecoder();
        decoder.Append(Hex(CorruptedPayload));
        Assert.Throws<EventStreamFormatException>(() => decoder.TryRead(out _));
        Assert.Throws<EventStreamFormatException>(() => decoder.Append(Hex(EmptyMessage)));
    }

    [Fact]
    public void DecodeOne_HeadersLengthBeyondMessage_ThrowsWithoutReadingPastTheEnd()
    {
        // A valid prelude CRC over lengths that cannot fit: total 16, headers 10.
        var frame = BuildRaw(total: 16, headersLength: 10, body: []);
        var e = Assert.Throws<EventStreamFormatException>(() => EventStreamDecoder.DecodeOne(frame));
        Assert.Contains("does not fit", e.Message);
    }

    [Fact]
    public void DecodeOne_TotalBelowMinimum_Throws()
    {
        var frame = BuildRaw(total: 12, headersLength: 0, body: []);
        Assert.Throws<EventStreamFormatException>(() => EventStreamDecoder.DecodeOne(frame[..12]));
    }

    [Fact]
    public void DecodeOne_TotalAboveLimit_Throws()
    {
        var prelude = new byte[12];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(prelude, EventStreamLimits.MaxMessageBytes + 1);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(prelude.AsSpan(8), Crc32.Compute(prelude.AsSpan(0, 8)));
        using var decoder = new EventStreamDecoder();
        decoder.Append(prelude);
        var e = Assert.Throws<EventStreamFormatException>(() => decoder.TryRead(out _));
        Assert.Contains("limit", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 1, (byte)'a', 4, 0, 0 })]            // int header cut short
    [InlineData(new byte[] { 1, (byte)'a', 7, 0, 9, (byte)'x' })] // string longer than the headers
    [InlineData(new byte[] { 5, (byte)'a' })]                      // name longer than the headers
    [InlineData(new byte[] { 1, (byte)'a', 42 })]                  // unknown type
    [InlineData(new byte[] { 0, 0 })]                              // empty name
    [InlineData(new byte[] { 1, 0xFF, 0 })]                        // name not UTF-8
    [InlineData(new byte[] { 1, (byte)'a', 7, 0, 1, 0xC3 })]       // string value not UTF-8
    public void DecodeOne_MalformedHeaders_ThrowsFormatException(byte[] headers)
    {
        var frame = BuildRaw(total: 16 + headers.Length, headersLength: headers.Length, body: headers);
        Assert.Throws<EventStreamFormatException>(() => EventStreamDecoder.DecodeOne(frame));
    }

    [Fact]
    public void Encode_EveryHeaderType_RoundTrips()
    {
        var uuid = Guid.NewGuid();
        var when = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        EventStreamHeader[] headers =
        [
            new("t", EventStreamHeaderValue.FromBool(true)),
            new("f", EventStreamHeaderValue.FromBool(false)),
            new("b", EventStreamHeaderValue.FromByte(-7)),
            new("s", EventStreamHeaderValue.FromShort(short.MinValue)),
            new("i", EventStreamHeaderValue.FromInt(int.MaxValue)),
            new("l", EventStreamHeaderValue.FromLong(long.MinValue)),
            new("a", EventStreamHeaderValue.FromBytes(new byte[] { 0, 1, 255 })),
            new(":event-type", EventStreamHeaderValue.FromString("contentBlockDelta — ünïcode")),
            new("ts", EventStreamHeaderValue.FromTimestamp(when)),
            new("u", EventStreamHeaderValue.FromUuid(uuid)),
        ];
        var payload = "{\"delta\":{\"text\":\"hi\"}}"u8.ToArray();
        var decoded = EventStreamDecoder.DecodeOne(EventStreamEncoder.Encode(new EventStreamMessage(headers, payload)));
        Assert.Equal(headers, decoded.Headers);
        Assert.Equal(payload, decoded.Payload.ToArray());
        Assert.Equal(when, decoded.Header("ts")!.Value.Timestamp);
        Assert.Equal(uuid, decoded.Header("u")!.Value.Uuid);
    }

    [Fact]
    public void Encode_HeaderNameTooLong_Throws()
    {
        var message = new EventStreamMessage([EventStreamHeader.String(new string('n', 128), "v")], default);
        Assert.Throws<EventStreamFormatException>(() => EventStreamEncoder.Encode(message));
    }

    [Fact]
    public void Encode_PayloadAboveLimit_Throws()
    {
        var message = new EventStreamMessage([], new byte[EventStreamLimits.MaxMessageBytes]);
        Assert.Throws<EventStreamFormatException>(() => EventStreamEncoder.Encode(message));
    }

    [Fact]
    public async Task ReadAllAsync_StreamOfFrames_YieldsEachMessage()
    {
        var buffer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < 50; i++)
            EventStreamEncoder.Encode([EventStreamHeader.String(":event-type", "chunk"), new("n", EventStreamHeaderValue.FromInt(i))], new byte[i * 100], buffer);
        using var stream = new MemoryStream(buffer.WrittenSpan.ToArray());
        var n = 0;
        await foreach (var m in EventStreamDecoder.ReadAllAsync(stream))
        {
            Assert.Equal(n, m.Header("n")!.Value.Integer);
            Assert.Equal(n * 100, m.Payload.Length);
            n++;
        }
        Assert.Equal(50, n);
    }

    [Fact]
    public async Task ReadAllAsync_StreamEndsMidFrame_Throws()
    {
        var bytes = Hex(PayloadOneStringHeader);
        using var stream = new MemoryStream(bytes, 0, bytes.Length - 3);
        await Assert.ThrowsAsync<EventStreamFormatException>(async () =>
        {
            await foreach (var _ in EventStreamDecoder.ReadAllAsync(stream))
            {
            }
        });
    }

    [Fact]
    public void Compute_StandardCheckString_MatchesCrc32Reference()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
    }

    [Fact]
    public void DecodeOne_RandomlyCorruptedHeadersWithValidCrcs_OnlyEverThrowsFormatException()
    {
        var random = new Random(20261123);
        var original = Hex(AllHeaderTypes);
        for (var round = 0; round < 5000; round++)
        {
            var frame = (byte[])original.Clone();
            var flips = random.Next(1, 6);
            for (var i = 0; i < flips; i++)
                frame[EventStreamLimits.PreludeBytes + random.Next(0x52)] = (byte)random.Next(256);
            // Re-seal the message so that the header parser, not the CRC check, meets the damage.
            var crcAt = frame.Length - 4;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(crcAt), Crc32.Compute(frame.AsSpan(0, crcAt)));
            try
            {
                EventStreamDecoder.DecodeOne(frame);
            }
            catch (EventStreamFormatException)
            {
            }
        }
    }

    [Fact]
    public void TryRead_RandomTruncationsAndSplits_NeverYieldsAPartialMessage()
    {
        var random = new Random(7);
        var all = Hex(PayloadOneStringHeader).Concat(Hex(AllHeaderTypes)).ToArray();
        for (var round = 0; round < 500; round++)
        {
            var cut = random.Next(all.Length);
            using var decoder = new EventStreamDecoder();
            var at = 0;
            var count = 0;
            while (at < cut)
            {
                var n = Math.Min(random.Next(1, 40), cut - at);
                decoder.Append(all.AsSpan(at, n));
                at += n;
                while (decoder.TryRead(out _))
                    count++;
            }
            var expected = cut >= all.Length ? 2 : cut >= 0x3D ? 1 : 0;
            Assert.Equal(expected, count);
        }
    }

    private static byte[] BuildRaw(int total, int headersLength, byte[] body)
    {
        var frame = new byte[Math.Max(total, 16)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame, total);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), headersLength);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), Crc32.Compute(frame.AsSpan(0, 8)));
        body.CopyTo(frame.AsSpan(12));
        var crcAt = frame.Length - 4;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(crcAt), Crc32.Compute(frame.AsSpan(0, crcAt)));
        return frame;
    }
}
