using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Tests.Tokenization;

public sealed class StreamingDecoderTests
{
    [Theory]
    [InlineData(new byte[] { 0x61, 0x62 }, 2)]                 // ASCII: complete
    [InlineData(new byte[] { 0x61, 0xC3 }, 1)]                 // "a" + first byte of "é"
    [InlineData(new byte[] { 0xC3, 0xA9 }, 2)]                 // "é"
    [InlineData(new byte[] { 0x61, 0xE2, 0x82 }, 1)]           // "a" + two of the three bytes of "€"
    [InlineData(new byte[] { 0xE2, 0x82, 0xAC }, 3)]           // "€"
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98 }, 0)]           // three of the four bytes of "😁"
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98, 0x81 }, 4)]     // "😁"
    [InlineData(new byte[] { 0x61, 0xFF }, 2)]                 // invalid byte: nothing to wait for
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80 }, 4)]     // stray continuation bytes: nothing to wait for
    public void CompleteLength_PartialAndInvalidSequences_HoldsOnlyAnUnfinishedCharacter(byte[] bytes, int expected)
    {
        Assert.Equal(expected, StreamingDecoder.CompleteLength(bytes));
    }
}
