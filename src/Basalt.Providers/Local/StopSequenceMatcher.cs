using System.Text;

namespace Basalt.Providers.Local;

/// <summary>Finds stop sequences in streamed text, holding back any tail that may be the start of one,
/// so that no part of a stop sequence is ever emitted.</summary>
internal sealed class StopSequenceMatcher(IReadOnlyList<string> stopSequences)
{
    private readonly StringBuilder _pending = new();

    /// <summary>The stop sequence that ended generation, or null.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds text; returns what can be emitted now. After a match, returns the text before it and then nothing.</summary>
    public string Push(string piece)
    {
        if (Matched is not null)
            return "";
        _pending.Append(piece);
        if (stopSequences.Count == 0)
            return Drain(_pending.Length);
        var text = _pending.ToString();
        var firstMatch = -1;
        foreach (var stop in stopSequences)
        {
            if (stop.Length == 0) continue;
            var idx = text.IndexOf(stop, StringComparison.Ordinal);
            if (idx >= 0 && (firstMatch < 0 || idx < firstMatch))
            {
                firstMatch = idx;
                Matched = stop;
            }
        }
        if (firstMatch >= 0)
        {
            _pending.Clear();
            return text[..firstMatch];
        }
        var hold = 0;
        foreach (var stop in stopSequences)
            for (var n = Math.Min(stop.Length - 1, text.Length); n > hold; n--)
                if (string.CompareOrdinal(text, text.Length - n, stop, 0, n) == 0)
                {
                    hold = n;
                    break;
                }
        return Drain(text.Length - hold);
    }

    /// <summary>The text still held back when generation ends without a match.</summary>
    public string Flush() => Matched is null ? Drain(_pending.Length) : "";

    private string Drain(int count)
    {
        var s = _pending.ToString(0, count);
        _pending.Remove(0, count);
        return s;
    }
}
