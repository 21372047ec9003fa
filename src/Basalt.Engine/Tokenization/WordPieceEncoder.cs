using System.Globalization;
using System.Text;

namespace Basalt.Engine.Tokenization;

/// <summary>WordPiece ("bert" vocabularies, as llama.cpp converts them: word-initial pieces carry a U+2581 prefix, "##"
/// continuations are stored bare). Text is accent-stripped (first code point of NFD) and lowercased, split on whitespace,
/// punctuation, ASCII symbols and CJK ideographs, then each word is covered greedily by the longest matching pieces;
/// a word that cannot be covered becomes [UNK].</summary>
internal sealed class WordPieceEncoder
{
    [ThreadStatic] private static Scratch? t_scratch;

    private readonly VocabIndex _vocab;
    private readonly int _unknownId;

    public WordPieceEncoder(VocabIndex vocab, int unknownId)
    {
        _vocab = vocab;
        _unknownId = unknownId;
    }

    /// <summary>Appends the tokens of <paramref name="fragment"/>.</summary>
    public void Encode(ReadOnlySpan<char> fragment, List<int> output)
    {
        var s = t_scratch ??= new Scratch();
        var word = s.Word;
        word.Clear();
        Span<char> utf16 = stackalloc char[2];
        var remaining = fragment;
        while (!remaining.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(remaining, out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
                rune = Rune.ReplacementChar;
            remaining = remaining[Math.Max(consumed, 1)..];

            var cp = FirstOfDecomposition(rune.Value);
            var r = new Rune(cp);
            if (Rune.IsWhiteSpace(r))
            {
                EncodeWord(word, output);
                continue;
            }
            var category = Rune.GetUnicodeCategory(r);
            if (cp == 0 || cp == 0xFFFD || category is UnicodeCategory.Control or UnicodeCategory.Format
                    or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate)
                continue;
            var lower = Rune.ToLowerInvariant(r);
            var written = lower.EncodeToUtf16(utf16);
            if (IsPunctuation(category) || (cp < 0x7F && IsSymbol(category)) || IsChineseCharacter(cp))
            {
                EncodeWord(word, output);
                word.Append(utf16[..written]);
                EncodeWord(word, output);
            }
            else
            {
                word.Append(utf16[..written]);
            }
        }
        EncodeWord(word, output);
    }

    /// <summary>Covers one word ("▁" + word) with the longest vocabulary pieces; clears <paramref name="word"/>.</summary>
    private void EncodeWord(StringBuilder word, List<int> output)
    {
        if (word.Length == 0)
            return;
        var s = t_scratch!;
        var n = word.Length + 1;
        if (s.Text.Length < n)
            s.Text = new char[Math.Max(n, s.Text.Length * 2)];
        s.Text[0] = SentencePieceEncoder.SpaceMarker;
        word.CopyTo(0, s.Text, 1, word.Length);
        word.Clear();
        var text = s.Text.AsSpan(0, n);
        var before = output.Count;
        for (var i = 0; i < n; i++)
        {
            var matched = false;
            for (var j = Math.Min(n, i + _vocab.MaxTokenLength); j > i; j--)
            {
                if (_vocab.TryGetId(text[i..j], out var id))
                {
                    output.Add(id);
                    matched = true;
                    i = j - 1;
                    break;
                }
            }
            if (!matched)
            {
                output.RemoveRange(before, output.Count - before);
                break;
            }
        }
        if (output.Count == before && _unknownId >= 0)
            output.Add(_unknownId);
    }

    /// <summary>The first code point of <paramref name="cp"/>'s canonical decomposition: "Ä" → "A", which strips accents.</summary>
    internal static int FirstOfDecomposition(int cp)
    {
        if (cp < 0xC0)
            return cp;
        var ranges = UnicodeNfdTable.Ranges;
        int lo = 0, hi = ranges.Length / 3 - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (cp < ranges[mid * 3])
                hi = mid - 1;
            else if (cp > ranges[mid * 3 + 1])
                lo = mid + 1;
            else
                return ranges[mid * 3 + 2];
        }
        return cp;
    }

    private static bool IsPunctuation(UnicodeCategory c) => c is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
        or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
        or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    private static bool IsSymbol(UnicodeCategory c) => c is UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol
        or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol;

    private static bool IsChineseCharacter(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    private sealed class Scratch
    {
        public readonly StringBuilder Word = new(64);
        public char[] Text = new char[64];
    }
}
