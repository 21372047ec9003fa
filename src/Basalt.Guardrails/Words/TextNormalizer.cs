using System.Collections.Frozen;
using System.Text;

namespace Basalt.Guardrails.Words;

/// <summary>Folds text to a canonical lowercase ASCII-leaning form for matching, keeping for every folded character the
/// offset of the original character it came from, so that a match in folded text maps back to the original span.
/// Folding: lowercase; full-width and compatibility forms (NFKC's job: circled, mathematical, ligatures) to ASCII;
/// diacritics removed; Cyrillic and Greek Latin look-alikes to Latin; zero-width and format characters removed;
/// unpaired surrogates to a space. Leetspeak is not folded here (digits are meaningful in most text): see
/// <see cref="LeetLetter"/>. Thread-safe: the tables are built once.</summary>
/// <remarks>The build sets InvariantGlobalization, under which string.Normalize returns non-ASCII input unchanged,
/// so the decomposition table is precomputed (FoldTable.g.cs).</remarks>
public static class TextNormalizer
{
    // BMP code unit -> folded single char ('\0' = not in the table). Multi-char foldings (ligatures, ß) and astral code
    // points (mathematical alphanumerics, enclosed letters) go through the dictionary.
    private static readonly char[] SingleFold = BuildSingle(out MultiFold);
    private static readonly FrozenDictionary<int, string> MultiFold;

    private static char[] BuildSingle(out FrozenDictionary<int, string> multi)
    {
        var single = new char[0x10000];
        var rest = new Dictionary<int, string>();
        foreach ((int cp, string folded) in FoldTable.Entries)
        {
            if (cp < 0x10000 && folded.Length == 1)
                single[cp] = folded[0];
            else
                rest[cp] = folded;
        }
        multi = rest.ToFrozenDictionary();
        return single;
    }

    /// <summary>Whether a character is dropped by folding: zero-width spaces and joiners, soft hyphen, BOM, variation
    /// selectors, combining marks (what NFKD would strip after removing diacritics).</summary>
    public static bool IsIgnorable(char c) =>
        c is '\u00AD' or '\u200B' or '\u200C' or '\u200D' or '\u2060' or '\uFEFF' or '\u034F'
        || (c >= '\u0300' && c <= '\u036F') || (c >= '\uFE00' && c <= '\uFE0F') || (c >= '\u180B' && c <= '\u180E');

    /// <summary>Folds one BMP character to a single char: the table's folding, else its invariant lowercase;
    /// '\0' when it is ignorable or folds to more than one character (use <see cref="Normalize"/> for those).</summary>
    public static char FoldChar(char c)
    {
        if (c < 0x80)
            return c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c;
        if (IsIgnorable(c))
            return '\0';
        char s = SingleFold[c];
        if (s != '\0')
            return s;
        return char.IsSurrogate(c) ? ' ' : char.ToLowerInvariant(c);
    }

    /// <summary>The letter a leetspeak character stands for ('0'→'o', '1'→'i', '3'→'e', '4'→'a', '5'→'s', '7'→'t',
    /// '8'→'b', '9'→'g', '@'→'a', '$'→'s', '!'→'i', '|'→'l', '+'→'t'), or '\0' when it is not one.</summary>
    public static char LeetLetter(char c) => c switch
    {
        '0' => 'o', '1' => 'i', '3' => 'e', '4' => 'a', '5' => 's', '7' => 't', '8' => 'b', '9' => 'g',
        '@' => 'a', '$' => 's', '!' => 'i', '|' => 'l', '+' => 't', '€' => 'e', '£' => 'l',
        _ => '\0',
    };

    /// <summary>Folds a whole text; the result maps each folded char back to the original.</summary>
    public static NormalizedText Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        var offsets = new int[text.Length + 1];
        int n = 0;
        bool asciiOnly = true;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c < 0x80)
            {
                Append(c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c, i);
                continue;
            }
            asciiOnly = false;
            int cp = c;
            int width = 1;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cp = char.ConvertToUtf32(c, text[i + 1]);
                width = 2;
            }
            else if (char.IsSurrogate(c))
            {
                Append(' ', i);
                continue;
            }
            if (width == 1 && IsIgnorable(c))
                continue;
            if (width == 1 && SingleFold[c] != '\0')
            {
                Append(SingleFold[c], i);
                continue;
            }
            if (MultiFold.TryGetValue(cp, out string? folded))
            {
                foreach (char f in folded)
                    Append(f, i);
            }
            else if (width == 1)
            {
                Append(char.ToLowerInvariant(c), i);
            }
            else
            {
                Append(c, i);
                Append(text[i + 1], i);
            }
            i += width - 1;
        }

        // The end offset of a match that ends at the last folded char is the end of the original text.
        offsets[n] = text.Length;
        return new NormalizedText(text, sb.ToString(), offsets, asciiOnly);

        void Append(char f, int original)
        {
            if (n + 1 >= offsets.Length)
                Array.Resize(ref offsets, offsets.Length * 2);
            offsets[n++] = original;
            sb.Append(f);
        }
    }
}

/// <summary>A folded text and the map from each folded char to the offset of the original char it came from.</summary>
public sealed class NormalizedText
{
    private readonly int[] _offsets;

    internal NormalizedText(string original, string folded, int[] offsets, bool originalWasAscii)
    {
        Original = original;
        Text = folded;
        _offsets = offsets;
        OriginalWasAscii = originalWasAscii;
    }

    /// <summary>The text as given.</summary>
    public string Original { get; }

    /// <summary>The folded text.</summary>
    public string Text { get; }

    /// <summary>Whether the original was pure ASCII (then folding only lowercased it and offsets are the identity).</summary>
    public bool OriginalWasAscii { get; }

    /// <summary>The offset in the original text of the folded char at <paramref name="index"/>
    /// (<see cref="Text"/>.Length maps to the original's length).</summary>
    public int OriginalOffset(int index) => _offsets[Math.Clamp(index, 0, Text.Length)];

    /// <summary>The span of the original text that the folded range [start, start + length) came from.</summary>
    public TextSpan ToOriginal(int start, int length)
    {
        if (length <= 0)
            return new TextSpan(OriginalOffset(start), 0);
        int from = OriginalOffset(start);
        int lastChar = OriginalOffset(start + length - 1);
        // The original char of the last folded char may be a surrogate pair: include its second half.
        int to = lastChar + (char.IsHighSurrogate(Original[lastChar]) && lastChar + 1 < Original.Length ? 2 : 1);
        return new TextSpan(from, to - from);
    }
}
