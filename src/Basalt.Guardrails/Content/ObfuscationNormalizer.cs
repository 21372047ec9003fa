using System.Buffers;
using System.Globalization;
using System.Text;

namespace Basalt.Guardrails.Content;

/// <summary>Undoes the usual tricks that hide a word from a filter, so that the content and topic models see the words a
/// reader sees: compatibility forms (full-width, ligatures), accents, case, look-alike letters from other scripts,
/// leetspeak digits inside words, punctuation inside words ("f*ck", "k.i.l.l"), letters spaced apart ("k i l l") and
/// stretched letters ("fuuuuck"). The result is lower-case words separated by single spaces.</summary>
internal static class ObfuscationNormalizer
{
    /// <summary>Spaced single letters are joined only from this many on, so "a b" stays two words.</summary>
    private const int MinSpacedRun = 3;

    /// <summary>Normalizes any string; lone surrogates and unassigned code points are dropped, never thrown on.</summary>
    public static string Normalize(string text)
    {
        if (string.IsNullOrEmpty(text)) return string.Empty;
        var decomposed = Decompose(text);
        var buffer = ArrayPool<char>.Shared.Rent(decomposed.Length + 1);
        var tokens = new List<(int Start, int Length)>(decomposed.Length / 4 + 4);
        try
        {
            var length = 0;
            var tokenStart = -1;
            for (var i = 0; i < decomposed.Length; i++)
            {
                var c = decomposed[i];
                if (char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.Format)
                {
                    continue; // accents after decomposition, zero-width joiners and the like
                }
                c = Fold(char.ToLowerInvariant(c));
                if (IsWordChar(c))
                {
                    if (tokenStart < 0) tokenStart = length;
                    buffer[length++] = c;
                    continue;
                }
                if (tokenStart >= 0 && IsJoiner(c) && i + 1 < decomposed.Length && IsWordChar(Fold(char.ToLowerInvariant(decomposed[i + 1]))))
                {
                    continue; // "f*ck", "k.i.l.l", "don't": punctuation between word characters joins them
                }
                if (tokenStart >= 0)
                {
                    tokens.Add((tokenStart, length - tokenStart));
                    tokenStart = -1;
                }
            }
            if (tokenStart >= 0) tokens.Add((tokenStart, length - tokenStart));
            return Emit(buffer, tokens);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static string Decompose(string text)
    {
        var clean = text;
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            clean = ReplaceLoneSurrogates(text);
            break;
        }
        try
        {
            return clean.Normalize(NormalizationForm.FormKD);
        }
        catch (ArgumentException)
        {
            return clean; // unassigned code points in some runtimes: assess the text as it is
        }
    }

    private static string ReplaceLoneSurrogates(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                sb.Append(' ');
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c is '@' or '$';

    private static bool IsJoiner(char c) => c is '.' or '-' or '_' or '*' or '\'' or '\u2019' or '`' or '^' or '~' or '+';

    /// <summary>Maps a lower-case letter that looks like a Latin letter (Cyrillic, Greek, IPA) to it.</summary>
    internal static char Fold(char c) => c switch
    {
        < '\u0250' => c,
        // Cyrillic
        'а' => 'a', 'в' => 'b', 'е' => 'e', 'ё' => 'e', 'з' => '3', 'и' => 'u', 'к' => 'k', 'м' => 'm', 'н' => 'h',
        'о' => 'o', 'р' => 'p', 'с' => 'c', 'т' => 't', 'у' => 'y', 'х' => 'x', 'ь' => 'b', 'і' => 'i', 'ї' => 'i',
        'ј' => 'j', 'ѕ' => 's', 'ԁ' => 'd', 'һ' => 'h', 'ԛ' => 'q', 'ԝ' => 'w', 'ӏ' => 'l', 'п' => 'n', 'г' => 'r',
        // Greek
        'α' => 'a', 'β' => 'b', 'γ' => 'y', 'δ' => 'd', 'ε' => 'e', 'η' => 'n', 'ι' => 'i', 'κ' => 'k', 'ν' => 'v',
        'ο' => 'o', 'ρ' => 'p', 'τ' => 't', 'υ' => 'u', 'χ' => 'x', 'ω' => 'w', 'ς' => 's', 'σ' => 'o', 'μ' => 'u',
        // IPA and Latin extensions
        'ɑ' => 'a', 'ɡ' => 'g', 'ɩ' => 'i', 'ɪ' => 'i', 'ʟ' => 'l', 'ɴ' => 'n', 'ʀ' => 'r', 'ꜱ' => 's', 'ᴀ' => 'a',
        'ᴄ' => 'c', 'ᴅ' => 'd', 'ᴇ' => 'e', 'ᴋ' => 'k', 'ᴍ' => 'm', 'ᴏ' => 'o', 'ᴘ' => 'p', 'ᴛ' => 't', 'ᴜ' => 'u',
        _ => c,
    };

    private static char Leet(char c) => c switch
    {
        '0' => 'o', '1' => 'i', '3' => 'e', '4' => 'a', '5' => 's', '7' => 't', '8' => 'b', '@' => 'a', '$' => 's', '9' => 'g',
        _ => c,
    };

    private static string Emit(char[] buffer, List<(int Start, int Length)> tokens)
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
                for (var k = 0; k < run; k++) sb.Append(buffer[tokens[i + k].Start]);
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
