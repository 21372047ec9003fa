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
        var decomposed = Decompose(text); // never longer than 3x the text (ligatures)
        var buffer = ArrayPool<char>.Shared.Rent(decomposed.Length + 1);
        var tokens = new List<(int Start, int Length, int Gap)>(decomposed.Length / 4 + 4);
            var gap = 0;
        try
        {
            var length = 0;
            var tokenStart = -1;
            for (var i = 0; i < decomposed.Length; i++)
            {
                var c = decomposed[i];
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

    /// <summary>Latin letters with diacritics (U+00C0 to U+024F) to their base letter, '.' where there is none;
    /// generated from Unicode's compatibility decompositions (the runtime's own normalization is unavailable in
    /// invariant-globalization mode, where string.Normalize leaves non-ASCII text unchanged).</summary>
    private const string LatinFold =
        "aaaaaaaceeeeiiiidnooooo.ouuuuypsaaaaaaaceeeeiiiidnooooo.ouuuuypyaaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkk.llllllllllnnnnnn...oooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzsb.......c.........f.............oo.............uu...................dddlllnnnaaiioouuuuuuuuuu.aaaa....ggkkoooo..jdddgg..nnaa....aaaaeeeeiiiioooorrrruuuusstt..hh......aaeeooooooooyy........c..........e........";

    /// <summary>Folds compatibility forms to plain letters: full-width forms, accented Latin letters, mathematical
    /// alphanumerics (𝐤𝐢𝐥𝐥), circled, parenthesized and squared letters, regional indicators and ligatures; drops
    /// combining marks, zero-width and other format characters, and lone surrogates.</summary>
    private static string Decompose(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            int cp = c;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cp = char.ConvertToUtf32(c, text[++i]);
            }
            else if (char.IsSurrogate(c))
            {
                sb.Append(' ');
                continue;
            }
            switch (cp)
            {
                case < 0xC0:
                    sb.Append((char)cp);
                    break;
                case <= 0x24F:
                    sb.Append(LatinFold[cp - 0xC0] is var f && f != '.' ? f : (char)cp);
                    break;
                case >= 0x300 and <= 0x36F: // combining diacritics
                case 0x200B or 0x200C or 0x200D or 0x2060 or 0xFEFF or 0x00AD:
                    break;
                case >= 0xFF01 and <= 0xFF5E:
                    sb.Append((char)(cp - 0xFEE0));
                    break;
                case 0x3000:
                    sb.Append(' ');
                    break;
                case >= 0x1D400 and <= 0x1D6A3:
                    sb.Append((char)('a' + (cp - 0x1D400) % 52 % 26));
                    break;
                case >= 0x1D7CE and <= 0x1D7FF:
                    sb.Append((char)('0' + (cp - 0x1D7CE) % 10));
                    break;
                case >= 0x24B6 and <= 0x24CF:
                    sb.Append((char)('a' + cp - 0x24B6));
                    break;
                case >= 0x24D0 and <= 0x24E9:
                    sb.Append((char)('a' + cp - 0x24D0));
                    break;
                case >= 0x249C and <= 0x24B5:
                    sb.Append((char)('a' + cp - 0x249C));
                    break;
                case >= 0x1F130 and <= 0x1F189:
                    sb.Append((char)('a' + (cp - 0x1F130) % 32 % 26));
                    break;
                case >= 0x1F1E6 and <= 0x1F1FF:
                    sb.Append((char)('a' + cp - 0x1F1E6));
                    break;
                case 0xFB00: sb.Append("ff"); break;
                case 0xFB01: sb.Append("fi"); break;
                case 0xFB02: sb.Append("fl"); break;
                case 0xFB03: sb.Append("ffi"); break;
                case 0xFB04: sb.Append("ffl"); break;
                case 0xFB05 or 0xFB06: sb.Append("st"); break;
                default:
                    if (cp > 0xFFFF)
                    {
                        sb.Append(' '); // emoji and other astral symbols separate words
                    }
                    else if (CharUnicodeInfo.GetUnicodeCategory((char)cp) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format)
                    {
                        // marks and invisible format characters hide nothing a reader sees
                    }
                    else
                    {
                        sb.Append((char)cp);
                    }
                    break;
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
