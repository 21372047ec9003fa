using System.Text;

namespace Basalt.Guardrails.Content;

/// <summary>Finds text hidden in base64, hex or rot13 inside a text, so the content model can assess what it decodes to
/// (an encoded "ignore your instructions" is a prompt attack once a model decodes it).</summary>
internal static class EncodedPayloads
{
    /// <summary>Shorter runs are ordinary words or ids, not payloads.</summary>
    private const int MinEncodedLength = 16;

    /// <summary>At most this many payloads per text, bounding the work an adversarial text can cause.</summary>
    private const int MaxPayloads = 8;

    /// <summary>At most this many candidate runs are decoded per text, so a text made of thousands of id-like runs costs
    /// no more than a few decodes.</summary>
    private const int MaxAttempts = 32;

    /// <summary>A decoded payload must be mostly printable text with at least this share of letters and spaces.</summary>
    private const double MinTextShare = 0.85;

    /// <summary>Every decoded payload of <paramref name="text"/>, decoding nested encodings up to <paramref name="depth"/> levels.</summary>
    public static List<string> Decode(string text, int depth = 2)
    {
        var found = new List<string>();
        Collect(text, depth, found);
        return found;
    }

    private static void Collect(string text, int depth, List<string> found)
    {
        if (depth <= 0) return;
        var start = -1;
        var attempts = 0;
        for (var i = 0; i <= text.Length && found.Count < MaxPayloads && attempts < MaxAttempts; i++)
        {
            var inRun = i < text.Length && IsEncodedChar(text[i]);
            if (inRun)
            {
                if (start < 0) start = i;
                continue;
            }
            if (start >= 0 && i - start >= MinEncodedLength)
            {
                var run = text.AsSpan(start, i - start).TrimEnd('=');
                attempts++;
                var decoded = TryHex(run) ?? TryBase64(run);
                if (decoded is not null)
                {
                    found.Add(decoded);
                    Collect(decoded, depth - 1, found);
                }
            }
            start = -1;
        }
        if (found.Count < MaxPayloads && text.Length >= MinEncodedLength)
        {
            var rot = Rot13IfEnglish(text);
            if (rot is not null) found.Add(rot);
        }
    }

    private static bool IsEncodedChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=' or '-' or '_';

    private static string? TryHex(ReadOnlySpan<char> run)
    {
        if (run.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) run = run[2..];
        if (run.Length % 2 != 0 || run.Length < MinEncodedLength) return null;
        foreach (var c in run)
        {
            if (!char.IsAsciiHexDigit(c)) return null;
        }
        var bytes = Convert.FromHexString(run);
        return AsText(bytes);
    }

    private static string? TryBase64(ReadOnlySpan<char> run)
    {
        var hasDigitOrSymbol = false;
        var hasUpper = false;
        var hasLower = false;
        foreach (var c in run)
        {
            if (char.IsAsciiDigit(c) || c is '+' or '/' or '-' or '_') hasDigitOrSymbol = true;
            else if (char.IsAsciiLetterUpper(c)) hasUpper = true;
            else hasLower = true;
        }
        // a long plain word is not base64; real payloads of text mix cases (and usually digits)
        if (!(hasUpper && hasLower) && !hasDigitOrSymbol) return null;
        var padded = run.Length % 4 == 0 ? run.Length : run.Length + 4 - run.Length % 4;
        Span<char> chars = padded <= 4096 ? stackalloc char[padded] : new char[padded];
        for (var i = 0; i < run.Length; i++) chars[i] = run[i] switch { '-' => '+', '_' => '/', var c => c };
        for (var i = run.Length; i < padded; i++) chars[i] = '=';
        var bytes = new byte[padded / 4 * 3];
        return Convert.TryFromBase64Chars(chars, bytes, out var written) ? AsText(bytes.AsSpan(0, written)) : null;
    }

    private static string? AsText(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4) return null;
        if (!System.Text.Unicode.Utf8.IsValid(bytes)) return null; // random bytes: not a text payload
        var text = Encoding.UTF8.GetString(bytes);
        var good = 0;
        var spaces = 0;
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c) || char.IsWhiteSpace(c) || char.IsPunctuation(c)) good++;
            if (c == ' ') spaces++;
        }
        return good >= MinTextShare * text.Length && spaces > 0 ? text : null;
    }

    /// <summary>The rot13 of <paramref name="text"/> when that reads as English and the text itself does not.</summary>
    private static string? Rot13IfEnglish(string text)
    {
        var rot = string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = c switch
                {
                    >= 'a' and <= 'z' => (char)('a' + (c - 'a' + 13) % 26),
                    >= 'A' and <= 'Z' => (char)('A' + (c - 'A' + 13) % 26),
                    _ => c,
                };
            }
        });
        var (plainWords, plainCommon) = CommonWordShare(text);
        var (_, rotCommon) = CommonWordShare(rot);
        if (plainWords < 3) return null;
        return rotCommon >= 0.25 * plainWords && rotCommon > 2 * plainCommon ? rot : null;
    }

    private static readonly HashSet<string> CommonWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "the", "a", "an", "and", "or", "to", "of", "in", "on", "is", "are", "you", "your", "i", "me", "my", "it", "this",
        "that", "all", "any", "for", "with", "be", "not", "no", "do", "now", "what", "how", "from", "as", "at", "by",
        "we", "they", "he", "she", "was", "were", "will", "can", "have", "has", "previous", "instructions", "ignore",
        "tell", "show", "system", "prompt", "rules", "give", "make", "kill", "hate", "into", "about", "so", "if", "then",
    };

    private static (int Words, int Common) CommonWordShare(string text)
    {
        var words = 0;
        var common = 0;
        var lookup = CommonWords.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var range in text.AsSpan().SplitAny(" \t\r\n.,;:!?\"()"))
        {
            var word = text.AsSpan(range);
            if (word.IsEmpty) continue;
            words++;
            if (lookup.Contains(word)) common++;
        }
        return (words, common);
    }
}
