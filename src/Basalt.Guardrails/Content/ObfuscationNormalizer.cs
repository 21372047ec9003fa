using System.Buffers;
using System.Text;
using Basalt.Guardrails.Words;

namespace Basalt.Guardrails.Content;

/// <summary>Undoes the usual tricks that hide a word from a filter, so that the content and topic models see the words a
/// reader sees: compatibility forms (full-width, ligatures), accents, case, look-alike letters from other scripts,
/// leetspeak digits inside words, punctuation inside words ("f*ck", "k.i.l.l"), letters spaced apart ("k i l l") and
/// stretched letters ("fuuuuck"). The result is lower-case words separated by single spaces.</summary>
internal static class ObfuscationNormalizer
{
    /// <summary>Spaced single letters are joined only from this many on, so "a b" stays two words.</summary>
    private const int MinSpacedRun = 3;

    /// <summary>Normalizes any string; lone surrogates become separators, never thrown on.</summary>
    public static string Normalize(string text)
    {
        if (string.IsNullOrEmpty(text)) return string.Empty;
        var decomposed = Decompose(text);
        var buffer = ArrayPool<char>.Shared.Rent(decomposed.Length + 1);
        var tokens = new List<(int Start, int Length, int Gap)>(decomposed.Length / 4 + 4);
        try
        {
            var length = 0;
            var gap = 0; // separators before the current token
            var tokenStart = -1;
            for (var i = 0; i < decomposed.Length; i++)
            {
                var c = decomposed[i];
                if (IsWordChar(c))
                {
                    if (tokenStart < 0) tokenStart = length;
                    buffer[length++] = c;
                    continue;
                }
                if (tokenStart >= 0 && IsJoiner(c) && i + 1 < decomposed.Length && IsWordChar(decomposed[i + 1]))
                {
                    continue; // "f*ck", "k.i.l.l", "don't": punctuation between word characters joins them
                }
                if (tokenStart >= 0)
                {
                    tokens.Add((tokenStart, length - tokenStart, gap));
                    tokenStart = -1;
                    gap = 0;
                }
                gap++;
            }
            if (tokenStart >= 0) tokens.Add((tokenStart, length - tokenStart, gap));
            return Emit(buffer, tokens);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    /// <summary>Folds compatibility forms, accents, case and look-alike letters with the word filter's
    /// <see cref="TextNormalizer"/> (one folding table for all guardrail policies); lone surrogates become spaces.</summary>
    private static string Decompose(string text) => TextNormalizer.Normalize(text).Text;

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c is '@' or '$';

    private static bool IsJoiner(char c) => c is '.' or '-' or '_' or '*' or '\'' or '\u2019' or '`' or '^' or '~' or '+';

    private static char Leet(char c) => c switch
    {
        '0' => 'o', '1' => 'i', '3' => 'e', '4' => 'a', '5' => 's', '7' => 't', '8' => 'b', '@' => 'a', '$' => 's', '9' => 'g',
        _ => c,
    };

    private static string Emit(char[] buffer, List<(int Start, int Length, int Gap)> tokens)
    {
        var sb = new StringBuilder(tokens.Count * 6);
        var i = 0;
        while (i < tokens.Count)
        {
            // a run of single letters: "k i l l"
            var run = 0;
            while (i + run < tokens.Count && tokens[i + run].Length == 1 && char.IsLetter(buffer[tokens[i + run].Start]))
            {
                run++;
            }
            if (run >= MinSpacedRun)
            {
                if (sb.Length > 0) sb.Append(' ');
                for (var k = 0; k < run; k++)
                {
                    // "k i l l   y o u": a wider gap inside the run separates words
                    if (k > 0 && tokens[i + k].Gap >= 2) sb.Append(' ');
                    sb.Append(buffer[tokens[i + k].Start]);
                }
                i += run;
                continue;
            }
            AppendToken(sb, buffer.AsSpan(tokens[i].Start, tokens[i].Length));
            i++;
        }
        return sb.ToString();
    }

    private static void AppendToken(StringBuilder sb, ReadOnlySpan<char> token)
    {
        var hasLetter = false;
        var hasDigitOrSymbol = false;
        foreach (var c in token)
        {
            if (char.IsLetter(c)) hasLetter = true;
            else hasDigitOrSymbol = true;
        }
        if (!hasLetter && !char.IsDigit(token[0]) && token.IndexOfAnyInRange('0', '9') < 0) return; // "@", "$$"
        if (sb.Length > 0) sb.Append(' ');
        var leet = hasLetter && hasDigitOrSymbol;
        char prev = '\0';
        var repeat = 0;
        foreach (var raw in token)
        {
            var c = leet ? Leet(raw) : raw;
            repeat = c == prev ? repeat + 1 : 0;
            prev = c;
            if (repeat >= 2 && char.IsLetter(c)) continue; // "fuuuuck" -> "fuuck"
            sb.Append(c);
        }
    }
}
