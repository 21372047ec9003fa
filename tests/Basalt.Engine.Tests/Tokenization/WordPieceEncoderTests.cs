using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Tests.Tokenization;

public sealed class WordPieceEncoderTests
{
    [Theory]
    [InlineData('A', 'A')]
    [InlineData('Ä', 'A')]
    [InlineData('ñ', 'n')]
    [InlineData('ệ', 'e')]       // two accents: the base letter remains
    [InlineData('한', 'ᄒ')]      // Hangul syllables decompose to their leading jamo
    [InlineData('中', '中')]
    public void FirstOfDecomposition_AccentedAndPlainCharacters_GivesTheBaseCharacter(char input, char expected)
    {
        Assert.Equal(expected, WordPieceEncoder.FirstOfDecomposition(input));
    }
}
