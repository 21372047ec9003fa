using System.Text;

namespace Basalt.Providers.Local;

/// <summary>Splits streamed output of thinking models (Qwen3, DeepSeek-R1 style) into reasoning, between &lt;think&gt; and
/// &lt;/think&gt;, and the answer after it, holding back text that may be part of either tag.</summary>
internal sealed class ReasoningSplitter(bool startsInReasoning)
{
    private const string Open = "<think>";
    private const string Close = "</think>";

    private enum State { Undecided, ReasoningStart, Reasoning, AfterReasoning, Text }

    private readonly StringBuilder _pending = new();
    private State _state = startsInReasoning ? State.ReasoningStart : State.Undecided;

    /// <summary>Adds output; returns the reasoning and answer text that can be emitted now.</summary>
    public (string Reasoning, string Text) Push(string piece)
    {
        _pending.Append(piece);
        var reasoning = new StringBuilder();
        var text = new StringBuilder();
        while (true)
        {
            var pending = _pending.ToString();
            switch (_state)
            {
                case State.Undecided:
                {
                    var trimmed = pending.TrimStart();
                    if (trimmed.Length == 0 || (Open.StartsWith(trimmed, StringComparison.Ordinal) && trimmed.Length < Open.Length))
                        return (reasoning.ToString(), text.ToString());
                    if (trimmed.StartsWith(Open, StringComparison.Ordinal))
                    {
                        _pending.Clear().Append(trimmed[Open.Length..]);
                        _state = State.ReasoningStart;
                    }
                    else
                        _state = State.Text;
                    continue;
                }
                case State.ReasoningStart:
                case State.AfterReasoning:
                {
                    var trimmed = pending.TrimStart('\n');
                    _pending.Clear().Append(trimmed);
                    if (trimmed.Length == 0)
                        return (reasoning.ToString(), text.ToString());
                    _state = _state == State.ReasoningStart ? State.Reasoning : State.Text;
                    continue;
                }
                case State.Reasoning:
                {
                    var idx = pending.IndexOf(Close, StringComparison.Ordinal);
                    if (idx >= 0)
                    {
                        reasoning.Append(pending, 0, idx);
                        _pending.Clear().Append(pending, idx + Close.Length, pending.Length - idx - Close.Length);
                        _state = State.AfterReasoning;
                        continue;
                    }
                    var hold = 0;
                    for (var n = Math.Min(Close.Length - 1, pending.Length); n > 0; n--)
                        if (string.CompareOrdinal(pending, pending.Length - n, Close, 0, n) == 0) { hold = n; break; }
                    reasoning.Append(pending, 0, pending.Length - hold);
                    _pending.Clear().Append(pending, pending.Length - hold, hold);
                    return (reasoning.ToString(), text.ToString());
                }
                default:
                    text.Append(pending);
                    _pending.Clear();
                    return (reasoning.ToString(), text.ToString());
            }
        }
    }

    /// <summary>Ends the output: whatever was held back, as reasoning when the closing tag never came.</summary>
    public (string Reasoning, string Text) Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return _state switch
        {
            State.Reasoning or State.ReasoningStart => (rest, ""),
            State.AfterReasoning => ("", ""),
            _ => ("", rest),
        };
    }
}
