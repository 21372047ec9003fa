using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Tests.Tokenization;

public sealed class PreTokenizerTests
{
    private static string[] Split(string pre, string text)
    {
        var words = new List<(int Start, int Length)>();
        PreTokenizer.ForName(pre).Split(text, words);
        var result = new string[words.Count];
        for (var i = 0; i < words.Count; i++)
            result[i] = text.Substring(words[i].Start, words[i].Length);
        return result;
    }

    private const string Sample = "Hello, y'all! 1234567  x\n\n y";

    [Fact]
    public void Split_Llama3_GroupsDigitsInThreesAndKeepsNewlinesTogether()
    {
        Assert.Equal(["Hello", ",", " y", "'all", "!", " ", "123", "456", "7", " ", " x", "\n\n", " y"], Split("llama-bpe", Sample));
    }

    [Fact]
    public void Split_Qwen2_SplitsEveryDigit()
    {
        Assert.Equal(["Hello", ",", " y", "'all", "!", " ", "1", "2", "3", "4", "5", "6", "7", " ", " x", "\n\n", " y"], Split("qwen2", Sample));
    }

    [Fact]
    public void Split_Gpt2_KeepsSpaceWithNumberAndSplitsApostrophe()
    {
        Assert.Equal(["Hello", ",", " y", "'", "all", "!", " 1234567", " ", " x", "\n\n", " y"], Split("gpt-2", Sample));
    }

    [Fact]
    public void Split_Starcoder_SplitsDigitsBeforeTheGpt2Pattern()
    {
        Assert.Equal(["Hello", ",", " y", "'", "all", "!", " ", "1", "2", "3", "4", "5", "6", "7", " ", " x", "\n\n", " y"],
            Split("starcoder", Sample));
    }

    [Fact]
    public void Split_SupplementaryPlaneLetters_AreLettersLikeAnyOther()
    {
        // U+1D400 and U+1D401 (mathematical bold capitals) are letters outside the BMP: UTF-16 surrogate pairs.
        Assert.Equal(["\U0001D400\U0001D401c", " d", "\U0001F600"], Split("llama-bpe", "\U0001D400\U0001D401c d\U0001F600"));
    }

    [Fact]
    public void Split_DeepSeekCoder_SeparatesNewlinesLettersPunctuationAndDigits()
    {
        Assert.Equal(["\n", "abc", " def", "!!", "4", "2"], Split("deepseek-coder", "\nabc def!!42"));
    }

    [Fact]
    public void ForName_EveryKnownName_CompilesItsPatterns()
    {
        foreach (var name in PreTokenizer.KnownNames)
            Assert.NotEmpty(Split(name, "Hello, World! 123 ½ 😁 我想 𝐀"));
    }

    [Fact]
    public void Split_SuperBpe_GroupsDigitsInThreesFromTheRight()
    {
        Assert.Equal(["1", "234", "567", " apples"], Split("superbpe", "1234567 apples"));
    }
}
