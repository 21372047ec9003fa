using Basalt.Guardrails.Words;

namespace Basalt.Guardrails.Tests.Words;

public sealed class TextNormalizerTests
{
    [Theory]
    [InlineData("ＨＥＬＬＯ", "hello")]
    [InlineData("Café Crème", "cafe creme")]
    [InlineData("ﬁnance", "finance")]
    [InlineData("Straße", "strasse")]
    [InlineData("раураl", "paypal")] // Cyrillic р, а, у
    [InlineData("𝐇𝐞𝐥𝐥𝐨", "hello")] // mathematical bold
    [InlineData("ⓗⓔⓛⓛⓞ", "hello")]
    [InlineData("zero\u200Bwidth", "zerowidth")]
    public void Normalize_ObfuscatedText_FoldsToPlainLowercase(string text, string expected)
    {
        Assert.Equal(expected, TextNormalizer.Normalize(text).Text);
    }

    [Fact]
    public void ToOriginal_FoldedRangeAfterAstralAndLigature_MapsToOriginalSpan()
    {
        string text = "𝐇i ﬁne";
        NormalizedText n = TextNormalizer.Normalize(text);

        int at = n.Text.IndexOf("fine", StringComparison.Ordinal);
        TextSpan span = n.ToOriginal(at, 4);

        Assert.Equal("ﬁne", text.Substring(span.Start, span.Length));
        Assert.Equal("𝐇", text.Substring(n.ToOriginal(0, 1).Start, n.ToOriginal(0, 1).Length));
    }

    [Fact]
    public void Normalize_UnpairedSurrogates_BecomeSpaces()
    {
        Assert.Equal("a b c", TextNormalizer.Normalize("a\ud800b\udc00c").Text);
    }
}
