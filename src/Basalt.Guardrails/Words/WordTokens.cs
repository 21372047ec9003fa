namespace Basalt.Guardrails.Words;

/// <summary>A token of folded text: [Start, End) is the whole run of word characters (letters, digits, leetspeak symbols,
/// '*'), [CoreStart, CoreEnd) the same run without leading and trailing non-letters ("sh!t!!" → "sh!t").</summary>
internal readonly record struct WordToken(int Start, int End, int CoreStart, int CoreEnd)
{
    public int Length => End - Start;
    public int CoreLength => CoreEnd - CoreStart;
}

/// <summary>Splits folded text into word tokens and maps token characters to lexicon key characters (leetspeak to
/// letters). Word boundaries come from the tokens: "Scunthorpe" is one token and never matches "cunt".</summary>
internal static class WordTokens
{
    /// <summary>Whether a folded char belongs to a word token.</summary>
    public static bool IsTokenChar(char c) =>
        char.IsLetterOrDigit(c) || c == '*' || (c < 0x80 && TextNormalizer.LeetLetter(c) != '\0');

    /// <summary>The key char of a folded token char: letters as they are, leetspeak symbols and digits as the letter they
    /// stand for, '*' kept (a mask).</summary>
    public static char KeyChar(char c)
    {
        if (char.IsLetter(c) || c == '*')
            return c;
        char leet = TextNormalizer.LeetLetter(c);
        return leet != '\0' ? leet : c;
    }

    /// <summary>Appends the tokens of a folded text; tokens without any letter ("$100", "2024") are skipped,
    /// except a lone leetspeak character, which may be one letter of a spaced-out word.</summary>
    public static void Tokenize(ReadOnlySpan<char> folded, List<WordToken> tokens)
    {
        int i = 0;
        while (i < folded.Length)
        {
            if (!IsTokenChar(folded[i]))
            {
                i++;
                continue;
            }
            int start = i;
            int firstLetter = -1, lastLetter = -1;
            while (i < folded.Length && IsTokenChar(folded[i]))
            {
                if (char.IsLetter(folded[i]))
                {
                    if (firstLetter < 0)
                        firstLetter = i;
                    lastLetter = i;
                }
                i++;
            }
            if (firstLetter >= 0)
                tokens.Add(new WordToken(start, i, firstLetter, lastLetter + 1));
            else if (i - start == 1 && TextNormalizer.LeetLetter(folded[start]) != '\0')
                tokens.Add(new WordToken(start, i, start, i)); // a lone '1' or '$' may be one letter of a spaced-out word
        }
    }

    /// <summary>The lexicon key of a configured word or phrase: folded, tokens' keys joined by one space; null when it
    /// has no letters. Trailing and leading punctuation of a token are dropped ("hello!" → "hello"), digits kept.</summary>
    public static string? KeyOf(string text)
    {
        NormalizedText normalized = TextNormalizer.Normalize(text);
        var tokens = new List<WordToken>();
        Tokenize(normalized.Text, tokens);
        if (tokens.Count == 0)
            return null;
        var key = new System.Text.StringBuilder();
        foreach (WordToken token in tokens)
        {
            int start = token.Start, end = token.End;
            while (start < token.CoreStart && !char.IsDigit(normalized.Text[start]) && normalized.Text[start] != '@' && normalized.Text[start] != '$')
                start++;
            while (end > token.CoreEnd && !char.IsDigit(normalized.Text[end - 1]) && normalized.Text[end - 1] != '$')
                end--;
            if (key.Length > 0)
                key.Append(' ');
            for (int i = start; i < end; i++)
                key.Append(KeyChar(normalized.Text[i]));
        }
        return key.ToString();
    }
}
