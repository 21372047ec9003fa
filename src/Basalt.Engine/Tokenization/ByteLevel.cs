namespace Basalt.Engine.Tokenization;

/// <summary>GPT-2's reversible byte-to-character mapping: every byte becomes one printable BMP character, so
/// byte-level BPE vocabularies store their pieces as text ("Ġ" is the byte 0x20).</summary>
internal static class ByteLevel
{
    /// <summary>The character standing for each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>The byte each mapped character stands for, or -1; indexed by char (all mapped chars are below 0x144).</summary>
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The byte <paramref name="c"/> stands for, or -1 when it is not a byte-level character.</summary>
    public static int ToByte(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            // Printable Latin-1 bytes stand for themselves; the rest (controls, space, 0x7F-0xA0, 0xAD) are moved above 0xFF.
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var reverse = new short[0x144];
        Array.Fill(reverse, (short)-1);
        for (var b = 0; b < 256; b++)
            reverse[ByteToChar[b]] = (short)b;
        return reverse;
    }
}
