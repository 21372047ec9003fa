using System.Text;
using System.Text.Json;

namespace Basalt.Engine.Templates;

/// <summary>How a model writes tool calls in its output.</summary>
public enum ToolCallFormat
{
    /// <summary>Try every known format.</summary>
    Auto,
    /// <summary>Qwen / Hermes: &lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;, one or more.</summary>
    Hermes,
    /// <summary>Llama 3.x: the whole reply is {"name": ..., "parameters": {...}}, optionally after &lt;|python_tag|&gt;.</summary>
    Llama3Json,
    /// <summary>Mistral: [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...].</summary>
    Mistral,
}

/// <summary>One tool call found in generated text; <see cref="ArgumentsJson"/> is a JSON object text.</summary>
public sealed record ParsedToolCall(string Name, string ArgumentsJson);

/// <summary>Generated text split into the prose around the tool calls and the calls themselves.</summary>
public sealed record ToolCallParseResult(string Text, IReadOnlyList<ParsedToolCall> Calls);

/// <summary>Finds tool calls in a model's output. Malformed calls are left as text: a reply is either parsed
/// completely or returned unchanged.</summary>
public static class ToolCallParser
{
    internal const string HermesOpen = "<tool_call>";
    internal const string HermesClose = "</tool_call>";
    internal const string MistralMarker = "[TOOL_CALLS]";
    internal const string PythonTag = "<|python_tag|>";

    /// <summary>Guesses the format a model uses from its chat template text (Auto when it cannot tell).</summary>
    public static ToolCallFormat DetectFormat(string? templateSource)
    {
        if (string.IsNullOrEmpty(templateSource)) return ToolCallFormat.Auto;
        if (templateSource.Contains(HermesOpen, StringComparison.Ordinal)) return ToolCallFormat.Hermes;
        if (templateSource.Contains(MistralMarker, StringComparison.Ordinal)) return ToolCallFormat.Mistral;
        if (templateSource.Contains("<|start_header_id|>", StringComparison.Ordinal) && templateSource.Contains("\"parameters\"", StringComparison.Ordinal))
            return ToolCallFormat.Llama3Json;
        return ToolCallFormat.Auto;
    }

    /// <summary>Splits <paramref name="output"/> into text and tool calls.</summary>
    public static ToolCallParseResult Parse(string output, ToolCallFormat format = ToolCallFormat.Auto)
    {
        ArgumentNullException.ThrowIfNull(output);
        var none = new ToolCallParseResult(output, []);
        if ((format is ToolCallFormat.Auto or ToolCallFormat.Llama3Json) && StartsLikeLlamaCall(output))
            return TryParseLlama(output) ?? (format == ToolCallFormat.Auto ? TryMarkers(output) ?? none : none);
        if (format == ToolCallFormat.Llama3Json)
            return none;
        return TryMarkers(output, format) ?? none;
    }

    private static ToolCallParseResult? TryMarkers(string output, ToolCallFormat format = ToolCallFormat.Auto)
    {
        if (format is ToolCallFormat.Auto or ToolCallFormat.Hermes)
        {
            var idx = output.IndexOf(HermesOpen, StringComparison.Ordinal);
            if (idx >= 0)
                return TryParseHermes(output, idx);
        }
        if (format is ToolCallFormat.Auto or ToolCallFormat.Mistral)
        {
            var idx = output.IndexOf(MistralMarker, StringComparison.Ordinal);
            if (idx >= 0)
                return TryParseMistral(output, idx);
        }
        return null;
    }

    internal static bool StartsLikeLlamaCall(string text)
    {
        var t = text.AsSpan().TrimStart();
        return t.StartsWith(PythonTag, StringComparison.Ordinal) || (t.Length > 0 && t[0] == '{');
    }

    private static ToolCallParseResult? TryParseHermes(string output, int start)
    {
        var calls = new List<ParsedToolCall>();
        var pos = start;
        while (true)
        {
            pos = SkipWhitespace(output, pos);
            if (string.CompareOrdinal(output, pos, HermesOpen, 0, HermesOpen.Length) != 0)
                break;
            var bodyStart = pos + HermesOpen.Length;
            var close = output.IndexOf(HermesClose, bodyStart, StringComparison.Ordinal);
            var body = close < 0 ? output[bodyStart..] : output[bodyStart..close];
            var call = TryReadCall(body.Trim());
            if (call is null)
                return null;
            calls.Add(call);
            pos = close < 0 ? output.Length : close + HermesClose.Length;
        }
        return new ToolCallParseResult(output[..start] + output[pos..].TrimStart(), calls);
    }

    private static ToolCallParseResult? TryParseMistral(string output, int start)
    {
        var pos = SkipWhitespace(output, start + MistralMarker.Length);
        var end = FindJsonEnd(output, pos);
        if (end < 0)
            return null;
        try
        {
            using var doc = JsonDocument.Parse(output.AsMemory(pos, end - pos));
            var calls = new List<ParsedToolCall>();
            if (doc.RootElement.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in doc.RootElement.EnumerateArray())
                {
                    var call = ReadCall(item);
                    if (call is null) return null;
                    calls.Add(call);
                }
            }
            else
            {
                var call = ReadCall(doc.RootElement);
                if (call is null) return null;
                calls.Add(call);
            }
            return calls.Count == 0 ? null : new ToolCallParseResult(output[..start] + output[end..].TrimStart(), calls);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static ToolCallParseResult? TryParseLlama(string output)
    {
        var pos = SkipWhitespace(output, 0);
        if (string.CompareOrdinal(output, pos, PythonTag, 0, PythonTag.Length) == 0)
            pos = SkipWhitespace(output, pos + PythonTag.Length);
        var calls = new List<ParsedToolCall>();
        while (pos < output.Length)
        {
            var end = FindJsonEnd(output, pos);
            if (end < 0)
                return null;
            var call = TryReadCall(output[pos..end]);
            if (call is null)
                return null;
            calls.Add(call);
            pos = SkipWhitespace(output, end);
            if (pos < output.Length && output[pos] == ';')
                pos = SkipWhitespace(output, pos + 1);
        }
        return calls.Count == 0 ? null : new ToolCallParseResult("", calls);
    }

    private static int SkipWhitespace(string s, int pos)
    {
        while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
        return pos;
    }

    /// <summary>End (exclusive) of the JSON object or array starting at <paramref name="start"/>, by bracket balance
    /// outside strings; -1 when it does not start one or never closes.</summary>
    internal static int FindJsonEnd(string s, int start)
    {
        if (start >= s.Length || (s[start] != '{' && s[start] != '['))
            return -1;
        var depth = 0;
        var inString = false;
        for (var i = start; i < s.Length; i++)
        {
            var c = s[i];
            if (inString)
            {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
                continue;
            }
            switch (c)
            {
                case '"': inString = true; break;
                case '{' or '[': depth++; break;
                case '}' or ']':
                    if (--depth == 0) return i + 1;
                    break;
            }
        }
        return -1;
    }

    private static ParsedToolCall? TryReadCall(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return ReadCall(doc.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads {"name": ..., "arguments"|"parameters": {...} or a JSON string of one}.</summary>
    private static ParsedToolCall? ReadCall(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            return null;
        if (e.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object)
            e = function;
        if (!e.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
            return null;
        var name = nameElement.GetString()!;
        if (name.Length == 0)
            return null;
        if (!e.TryGetProperty("arguments", out var args) && !e.TryGetProperty("parameters", out args))
            return new ParsedToolCall(name, "{}");
        switch (args.ValueKind)
        {
            case JsonValueKind.Object:
                return new ParsedToolCall(name, args.GetRawText());
            case JsonValueKind.String:
                try
                {
                    using var inner = JsonDocument.Parse(args.GetString()!);
                    return inner.RootElement.ValueKind == JsonValueKind.Object ? new ParsedToolCall(name, inner.RootElement.GetRawText()) : null;
                }
                catch (JsonException)
                {
                    return null;
                }
            case JsonValueKind.Null:
                return new ParsedToolCall(name, "{}");
            default:
                return null;
        }
    }
}

/// <summary>The incremental form of <see cref="ToolCallParser"/> for streaming: <see cref="Push"/> returns the text
/// that can be shown now and holds back anything that may be the start of a tool call; <see cref="Finish"/> parses
/// what was held. The text pushed out plus Finish's text equals <see cref="ToolCallParser.Parse"/>'s text.</summary>
public sealed class ToolCallStream(ToolCallFormat format)
{
    private readonly StringBuilder _all = new();
    private int _emitted;
    private bool _holding;
    private bool _sawContent;

    /// <summary>Adds generated text; returns the part that is certainly not a tool call (possibly empty).</summary>
    public string Push(string piece)
    {
        ArgumentNullException.ThrowIfNull(piece);
        _all.Append(piece);
        if (_holding)
            return "";
        var safeEnd = _all.Length;
        if (!_sawContent && format is ToolCallFormat.Auto or ToolCallFormat.Llama3Json)
        {
            var pending = _all.ToString(_emitted, _all.Length - _emitted).TrimStart();
            if (pending.Length == 0)
                return "";
            if (pending[0] == '{' || pending.StartsWith(ToolCallParser.PythonTag, StringComparison.Ordinal))
            {
                _holding = true;
                return "";
            }
            if (ToolCallParser.PythonTag.StartsWith(pending, StringComparison.Ordinal))
                return "";
            _sawContent = true;
        }
        if (format != ToolCallFormat.Llama3Json)
        {
            var text = _all.ToString();
            foreach (var marker in Markers())
            {
                var idx = text.IndexOf(marker, _emitted, StringComparison.Ordinal);
                if (idx >= 0)
                {
                    _holding = true;
                    safeEnd = Math.Min(safeEnd, idx);
                }
                else if (!_holding)
                    safeEnd = Math.Min(safeEnd, text.Length - PartialMarkerLength(text, marker));
            }
        }
        if (safeEnd <= _emitted)
            return "";
        var emit = _all.ToString(_emitted, safeEnd - _emitted);
        _emitted = safeEnd;
        return emit;
    }

    /// <summary>Ends the stream: the held-back text that is not a call, and the calls.</summary>
    public ToolCallParseResult Finish()
    {
        var rest = _all.ToString(_emitted, _all.Length - _emitted);
        _emitted = _all.Length;
        return rest.Length == 0 ? new ToolCallParseResult("", []) : ToolCallParser.Parse(rest, format);
    }

    private IEnumerable<string> Markers() => format switch
    {
        ToolCallFormat.Hermes => [ToolCallParser.HermesOpen],
        ToolCallFormat.Mistral => [ToolCallParser.MistralMarker],
        _ => [ToolCallParser.HermesOpen, ToolCallParser.MistralMarker],
    };

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of <paramref name="marker"/>.</summary>
    private static int PartialMarkerLength(string text, string marker)
    {
        for (var n = Math.Min(marker.Length - 1, text.Length); n > 0; n--)
            if (string.CompareOrdinal(text, text.Length - n, marker, 0, n) == 0)
                return n;
        return 0;
    }
}
