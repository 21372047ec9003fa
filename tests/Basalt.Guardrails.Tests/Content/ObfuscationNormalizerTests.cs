using Basalt.Guardrails.Content;

namespace Basalt.Guardrails.Tests.Content;

public sealed class ObfuscationNormalizerTests
{
    [Theory]
    [InlineData("Ｋｉｌｌ　ｔｈｅｍ", "kill them")]          // full-width letters and ideographic space
    [InlineData("kіll thеm", "kill them")]                 // Cyrillic і and е
    [InlineData("𝐤𝐢𝐥𝐥 them", "kill them")]                  // mathematical bold
    [InlineData("k i l l   t h e m", "kill them")]         // spaced letters, wider gap between words
    [InlineData("k.i.l.l them", "kill them")]              // punctuation between letters
    [InlineData("f*cking id!ot", "fcking id ot")]          // '*' joins; '!' separates
    [InlineData("1gn0r3 pr3v10us", "ignore previous")]     // leetspeak inside words
    [InlineData("kïll thé mân", "kill the man")]           // diacritics
    [InlineData("stuuuupid", "stuupid")]                   // stretched letters
    [InlineData("ki\u200Bll", "kill")]                     // zero-width space
    [InlineData("port 8080 is open", "port 8080 is open")] // numbers stay numbers
    public void Normalize_ObfuscatedText_ReadsAsPlainWords(string text, string expected)
    {
        Assert.Equal(expected, ObfuscationNormalizer.Normalize(text));
    }

    [Fact]
    public void Normalize_LoneSurrogatesAndControlCharacters_DoesNotThrow()
    {
        var text = "bad \uD800 surrogate \uDC00 and \0 nul \uFFFF end";
        Assert.Equal("bad surrogate and nul end", ObfuscationNormalizer.Normalize(text).Replace("\uFFFF", "").Trim());
    }
}
