using System.Text;

namespace Basalt.Guardrails.Pii;

/// <summary>The text the PII detectors read: the original with JSON string escapes decoded ("\u0040" → '@', "\n" → a
/// newline), full-width forms folded to ASCII ("１２３" → "123") and zero-width characters removed, so that PII hidden
/// inside JSON or behind Unicode tricks is seen. Case is kept (NAME reads capitalization). Offsets map back to the
/// original so findings and anonymization cover exactly the original characters.</summary>
internal sealed class PiiText
{
    private readonly int[]? _offsets;

    private PiiText(string original, string text, int[]? offsets)
    {
        Original = original;
        Text = text;
        _offsets = offsets;
    }

    /// <summary>The text as given.</summary>
    public string Original { get; }

    /// <summary>The text the detectors read.</summary>
    public string Text { get; }

    /// <summary>Builds the view; plain ASCII text without backslashes is used as it is.</summary>
    public static PiiText Of(string original)
    {
        bool plain = true;
        foreach (char c in original)
        {
            if (c >= 0x80 || c == '\\')
            {
                plain = false;
                break;
            }
        }
        if (plain)
            return new PiiText(original, original, null);

        var sb = new StringBuilder(original.Length);
        var offsets = new List<int>(original.Length + 1);
        for (int i = 0; i < original.Length; i++)
        {
            char c = original[i];
            if (c == '\\' && i + 1 < original.Length)
            {
                char e = original[i + 1];
                char decoded = e switch { 'n' => '\n', 'r' => '\r', 't' => '\t', '"' => '"', '\\' => '\\', '/' => '/', 'b' => ' ', 'f' => ' ', _ => '\0' };
                if (decoded != '\0')
                {
                    Add(decoded, i);
                    i++;
                    continue;
                }
                if (e == 'u' && i + 5 < original.Length && ushort.TryParse(original.AsSpan(i + 2, 4), System.Globalization.NumberStyles.AllowHexSpecifier, null, out ushort code))
                {
                    Add(Fold((char)code), i);
                    i += 5;
                    continue;
                }
            }
            if (IsZeroWidth(c))
                continue;
            Add(Fold(c), i);
        }
        offsets.Add(original.Length);
        return new PiiText(original, sb.ToString(), offsets.ToArray());

        void Add(char c, int at)
        {
            if (IsZeroWidth(c))
                return;
            sb.Append(c);
            offsets.Add(at);
        }
    }

    private static bool IsZeroWidth(char c) => c is '\u200B' or '\u200C' or '\u200D' or '\u2060' or '\uFEFF' or '\u00AD';

    private static char Fold(char c)
    {
        if (c >= '\uFF01' && c <= '\uFF5E')
            return (char)(c - 0xFEE0);
        return c switch
        {
            '\u3000' or '\u00A0' or '\u2007' or '\u202F' or '\u2009' => ' ',
            '\u2010' or '\u2011' or '\u2012' or '\u2013' or '\u2014' or '\u2212' => '-',
            '\uFF0E' => '.',
            _ => char.IsSurrogate(c) ? ' ' : c,
        };
    }

    /// <summary>The original span of the view's range [start, start + length).</summary>
    public TextSpan ToOriginal(int start, int length)
    {
        if (_offsets is null)
            return new TextSpan(start, length);
        // A match ends where the next view char starts (an escape or a removed zero-width char stays with the match).
        int from = _offsets[start];
        int to = _offsets[Math.Min(start + length, _offsets.Length - 1)];
        return new TextSpan(from, Math.Max(0, to - from));
    }
}
