using System.Globalization;
using System.Text;

namespace Basalt.Engine.Templates;

internal enum JinjaTokenKind
{
    Text,
    OutputStart,
    OutputEnd,
    StatementStart,
    StatementEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Line);

/// <summary>Splits template source into text and tag tokens, applying Hugging Face's whitespace settings
/// (trim_blocks and lstrip_blocks on) and the '-' / '+' markers.</summary>
internal static class JinjaLexer
{
    /// <summary>Templates larger than this are refused (real chat templates are under 20 KB).</summary>
    public const int MaxSourceChars = 1 << 20;

    private enum TagKind { Output, Statement, Comment }

    private sealed class Segment
    {
        public string? Text;          // text segment when not null
        public TagKind Kind;
        public List<JinjaToken>? Tokens;
        public int Line;
        public bool TrimLeft, TrimRight, KeepLeft;
    }

    public static List<JinjaToken> Tokenize(string source)
    {
        if (source.Length > MaxSourceChars)
            throw new TemplateException($"The template is {source.Length} characters; the limit is {MaxSourceChars}.");
        var segments = Split(source);
        ApplyWhitespaceControl(segments);
        var tokens = new List<JinjaToken>();
        foreach (var s in segments)
        {
            if (s.Text is not null)
            {
                if (s.Text.Length > 0)
                    tokens.Add(new JinjaToken(JinjaTokenKind.Text, s.Text, s.Line));
                continue;
            }
            if (s.Kind == TagKind.Comment)
                continue;
            tokens.Add(new JinjaToken(s.Kind == TagKind.Output ? JinjaTokenKind.OutputStart : JinjaTokenKind.StatementStart, "", s.Line));
            tokens.AddRange(s.Tokens!);
            var endLine = s.Tokens!.Count > 0 ? s.Tokens[^1].Line : s.Line;
            tokens.Add(new JinjaToken(s.Kind == TagKind.Output ? JinjaTokenKind.OutputEnd : JinjaTokenKind.StatementEnd, "", endLine));
        }
        tokens.Add(new JinjaToken(JinjaTokenKind.End, "", CountLines(source, source.Length)));
        return tokens;
    }

    private static int CountLines(string s, int upTo)
    {
        var line = 1;
        for (var i = 0; i < upTo; i++)
            if (s[i] == '\n') line++;
        return line;
    }

    private static List<Segment> Split(string src)
    {
        var segments = new List<Segment>();
        var pos = 0;
        var line = 1;
        while (pos < src.Length)
        {
            var open = FindTagStart(src, pos);
            if (open < 0)
            {
                segments.Add(new Segment { Text = src[pos..], Line = line });
                break;
            }
            if (open > pos)
            {
                segments.Add(new Segment { Text = src[pos..open], Line = line });
                line += CountNewlines(src, pos, open);
            }
            var kind = src[open + 1] switch { '{' => TagKind.Output, '%' => TagKind.Statement, _ => TagKind.Comment };
            var seg = new Segment { Kind = kind, Line = line };
            var p = open + 2;
            if (p < src.Length && src[p] == '-') { seg.TrimLeft = true; p++; }
            else if (p < src.Length && src[p] == '+') { seg.KeepLeft = true; p++; }
            if (kind == TagKind.Comment)
            {
                var close = src.IndexOf("#}", p, StringComparison.Ordinal);
                if (close < 0)
                    throw new TemplateException("Unclosed comment: '{#' has no matching '#}'.", line);
                seg.TrimRight = close > p && src[close - 1] == '-';
                line += CountNewlines(src, open, close + 2);
                pos = close + 2;
                seg.Tokens = [];
            }
            else
            {
                seg.Tokens = [];
                pos = LexTag(src, p, kind == TagKind.Output ? '}' : '%', seg, ref line);
            }
            segments.Add(seg);
        }
        return segments;
    }

    private static int CountNewlines(string s, int from, int to)
    {
        var n = 0;
        for (var i = from; i < to; i++)
            if (s[i] == '\n') n++;
        return n;
    }

    private static int FindTagStart(string src, int from)
    {
        for (var i = src.IndexOf('{', from); i >= 0 && i + 1 < src.Length; i = src.IndexOf('{', i + 1))
        {
            var c = src[i + 1];
            if (c is '{' or '%' or '#')
                return i;
        }
        return -1;
    }

    /// <summary>Lexes the inside of a {{ }} or {% %} tag; returns the position after the closing delimiter.</summary>
    private static int LexTag(string src, int p, char closeChar, Segment seg, ref int line)
    {
        var tokens = seg.Tokens!;
        var depth = 0;
        var startLine = line;
        while (true)
        {
            if (p >= src.Length)
                throw new TemplateException(closeChar == '}' ? "Unclosed '{{': expected '}}'." : "Unclosed '{%': expected '%}'.", startLine);
            var c = src[p];
            if (c == '\n') { line++; p++; continue; }
            if (char.IsWhiteSpace(c)) { p++; continue; }
            if (depth == 0)
            {
                if (c == '-' && p + 2 < src.Length && src[p + 1] == closeChar && src[p + 2] == '}')
                {
                    seg.TrimRight = true;
                    return p + 3;
                }
                if (c == closeChar && p + 1 < src.Length && src[p + 1] == '}')
                    return p + 2;
            }
            if (char.IsLetter(c) || c == '_')
            {
                var s = p;
                while (p < src.Length && (char.IsLetterOrDigit(src[p]) || src[p] == '_')) p++;
                tokens.Add(new JinjaToken(JinjaTokenKind.Name, src[s..p], line));
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                var s = p;
                var isFloat = false;
                while (p < src.Length && (char.IsAsciiDigit(src[p]) || src[p] == '_')) p++;
                if (p + 1 < src.Length && src[p] == '.' && char.IsAsciiDigit(src[p + 1]))
                {
                    isFloat = true;
                    p++;
                    while (p < src.Length && char.IsAsciiDigit(src[p])) p++;
                }
                if (p < src.Length && (src[p] == 'e' || src[p] == 'E'))
                {
                    var q = p + 1;
                    if (q < src.Length && (src[q] == '+' || src[q] == '-')) q++;
                    if (q < src.Length && char.IsAsciiDigit(src[q]))
                    {
                        isFloat = true;
                        p = q;
                        while (p < src.Length && char.IsAsciiDigit(src[p])) p++;
                    }
                }
                tokens.Add(new JinjaToken(isFloat ? JinjaTokenKind.Float : JinjaTokenKind.Integer, src[s..p].Replace("_", ""), line));
                continue;
            }
            if (c is '\'' or '"')
            {
                var tokLine = line;
                p = LexString(src, p, out var value, ref line);
                tokens.Add(new JinjaToken(JinjaTokenKind.String, value, tokLine));
                continue;
            }
            var op = MatchOperator(src, p);
            if (op is null)
                throw new TemplateException($"Unexpected character '{c}' inside a tag.", line);
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
            tokens.Add(new JinjaToken(JinjaTokenKind.Operator, op, line));
            p += op.Length;
        }
    }

    private static readonly string[] Operators =
        ["//", "**", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "~", "|", ".", ",", ":", "(", ")", "[", "]", "{", "}", "="];

    private static string? MatchOperator(string src, int p)
    {
        foreach (var op in Operators)
            if (string.CompareOrdinal(src, p, op, 0, op.Length) == 0)
                return op;
        return null;
    }

    private static int LexString(string src, int p, out string value, ref int line)
    {
        var quote = src[p];
        var startLine = line;
        var sb = new StringBuilder();
        p++;
        while (true)
        {
            if (p >= src.Length)
                throw new TemplateException("Unterminated string literal.", startLine);
            var c = src[p];
            if (c == quote) { p++; break; }
            if (c == '\n') line++;
            if (c == '\\' && p + 1 < src.Length)
            {
                var e = src[p + 1];
                p += 2;
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case '0': sb.Append('\0'); break;
                    case '\\': sb.Append('\\'); break;
                    case '\'': sb.Append('\''); break;
                    case '"': sb.Append('"'); break;
                    case '\n': line++; break;
                    case 'x' when p + 2 <= src.Length && int.TryParse(src.AsSpan(p, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var x):
                        sb.Append((char)x); p += 2; break;
                    case 'u' when p + 4 <= src.Length && int.TryParse(src.AsSpan(p, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var u):
                        sb.Append((char)u); p += 4; break;
                    default: sb.Append('\\').Append(e); break; // Python keeps unknown escapes verbatim
                }
                continue;
            }
            sb.Append(c);
            p++;
        }
        value = sb.ToString();
        return p;
    }

    /// <summary>'-' trims all whitespace on that side; otherwise lstrip_blocks removes spaces and tabs before a
    /// statement or comment that starts a line, and trim_blocks removes the first newline after one.</summary>
    private static void ApplyWhitespaceControl(List<Segment> segs)
    {
        for (var i = 0; i < segs.Count; i++)
        {
            var tag = segs[i];
            if (tag.Text is not null)
                continue;
            var isBlock = tag.Kind != TagKind.Output;
            if (i > 0 && segs[i - 1].Text is { } before)
            {
                if (tag.TrimLeft)
                    segs[i - 1].Text = before.TrimEnd();
                else if (isBlock && !tag.KeepLeft)
                {
                    var nl = before.LastIndexOf('\n');
                    var atLineStart = nl >= 0 || i - 1 == 0;
                    var tailStart = nl + 1;
                    if (atLineStart && IsSpacesOrTabs(before, tailStart))
                        segs[i - 1].Text = before[..tailStart];
                }
            }
            if (i + 1 < segs.Count && segs[i + 1].Text is { } after)
            {
                if (tag.TrimRight)
                    segs[i + 1].Text = after.TrimStart();
                else if (isBlock)
                {
                    if (after.StartsWith('\n')) segs[i + 1].Text = after[1..];
                    else if (after.StartsWith("\r\n", StringComparison.Ordinal)) segs[i + 1].Text = after[2..];
                }
            }
        }
    }

    private static bool IsSpacesOrTabs(string s, int from)
    {
        for (var i = from; i < s.Length; i++)
            if (s[i] is not (' ' or '\t'))
                return false;
        return true;
    }
}
