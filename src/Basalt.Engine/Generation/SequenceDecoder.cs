using System.Text;
using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Generation;

/// <summary>The per-sequence half of generation, apart from the forward pass: sampling with the sequence's own seed,
/// streaming detokenization, stop sequences, limits and cancellation. <see cref="Generator"/> (one sequence) and
/// <see cref="SequenceScheduler"/> (many sequences per forward pass) share it, so both give the same text.</summary>
internal sealed class SequenceDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly GenerationOptions _options;
    private readonly Func<GeneratedToken, bool>? _onToken;
    private readonly CancellationToken _ct;
    private readonly Sampler _sampler;
    private readonly StreamingDecoder _decoder;
    private readonly StringBuilder _text = new();
    private readonly bool _stripFirstSpace;
    private Rng _rng;
    private int _emitted; // chars of text already handed to onToken
    private char[] _tail = []; // the end of the text searched for stop sequences

    public SequenceDecoder(Tokenizer tokenizer, int vocabSize, GenerationOptions options, int lastPromptToken,
        Func<GeneratedToken, bool>? onToken, CancellationToken ct)
    {
        _tokenizer = tokenizer;
        _options = options;
        _onToken = onToken;
        _ct = ct;
        _sampler = new Sampler(vocabSize);
        _decoder = tokenizer.CreateStreamingDecoder();
        _rng = new Rng(options.Seed ?? (ulong)Random.Shared.NextInt64());
        // SentencePiece's dummy prefix: the first word after BOS decodes with a leading space that is not part of the text
        // (llama2.c and SentencePiece's own decode drop it).
        _stripFirstSpace = tokenizer.AddSpacePrefix && lastPromptToken == tokenizer.BosId;
    }

    /// <summary>Tokens sampled so far (including an end-of-generation token).</summary>
    public int Generated { get; private set; }

    /// <summary>Why the sequence ended, once it has.</summary>
    public FinishReason? Finish { get; private set; }

    /// <summary>The stop sequence that ended it, if any.</summary>
    public string? MatchedStopSequence { get; private set; }

    /// <summary>True when the caller cancelled; checked before each forward step so a cancelled sequence leaves at once.</summary>
    public bool IsCancelled => _ct.IsCancellationRequested;

    /// <summary>Marks the sequence cancelled (used when cancellation is seen before any logits were sampled).</summary>
    public void Cancel() => Finish ??= FinishReason.Cancelled;

    /// <summary>Samples the next token from <paramref name="logits"/> (modified by the penalties) after the tokens of
    /// <paramref name="history"/> (prompt and generated so far), emits its text and returns it; returns -1 when the sequence
    /// ends (see <see cref="Finish"/>). <paramref name="contextFull"/>: no position is left for another token.</summary>
    public int Next(Span<float> logits, ReadOnlySpan<int> history, bool contextFull)
    {
        if (Finish is not null)
            return -1;
        if (Generated >= _options.MaxTokens || contextFull)
            return End(FinishReason.MaxTokens);
        if (_ct.IsCancellationRequested)
            return End(FinishReason.Cancelled);
        var pos = history.Length;
        var window = _options.RepeatLastN < 0 ? pos : Math.Min(_options.RepeatLastN, pos);
        var next = _sampler.Sample(logits, _options, history.Slice(pos - window, window), ref _rng);
        Generated++;
        if (_tokenizer.IsEndOfGeneration(next))
            return End(FinishReason.EndOfGeneration);
        var piece = _decoder.Push(next);
        if (Generated == 1 && _stripFirstSpace && piece.StartsWith(' '))
            piece = piece[1..];
        _text.Append(piece);
        var safe = _text.Length;
        var stops = _options.StopSequences;
        if (stops.Count > 0)
        {
            if (FindStop(_text, stops, _emitted, out var at, out var stop))
            {
                _text.Length = at;
                MatchedStopSequence = stop;
                Finish = FinishReason.StopSequence;
                Emit(next, Math.Max(at, _emitted));
                return -1;
            }
            safe = _text.Length - LongestStopPrefixSuffix(_text, stops, _emitted);
        }
        if (!Emit(next, safe))
            return End(FinishReason.Cancelled);
        return next;
    }

    /// <summary>The outcome; flushes the text held back for a possible stop sequence or an incomplete character.</summary>
    public GenerationResult Complete(int promptTokens, int cachedPromptTokens, int cacheWriteTokens)
    {
        Finish ??= FinishReason.Cancelled;
        if (Finish != FinishReason.StopSequence)
        {
            _text.Append(_decoder.Flush());
            if (_text.Length > _emitted)
            {
                _onToken?.Invoke(new GeneratedToken(-1, _text.ToString(_emitted, _text.Length - _emitted)));
                _emitted = _text.Length;
            }
        }
        return new GenerationResult(_text.ToString(), promptTokens, Generated, Finish.Value, MatchedStopSequence)
        {
            CachedPromptTokens = cachedPromptTokens,
            CacheWriteTokens = cacheWriteTokens,
        };
    }

    private int End(FinishReason reason)
    {
        Finish = reason;
        return -1;
    }

    private bool Emit(int id, int upTo)
    {
        var piece = upTo > _emitted ? _text.ToString(_emitted, upTo - _emitted) : "";
        _emitted = Math.Max(_emitted, upTo);
        return _onToken?.Invoke(new GeneratedToken(id, piece)) ?? true;
    }

    /// <summary>Earliest stop sequence occurrence that ends after <paramref name="from"/> (earlier text was already checked). Only the
    /// tail that such an occurrence can touch is copied out of the builder, so a long generation does not copy its whole text per token.</summary>
    private bool FindStop(StringBuilder text, IReadOnlyList<string> stops, int from, out int at, out string? stop)
    {
        at = int.MaxValue;
        stop = null;
        var longest = 0;
        foreach (var candidate in stops)
            longest = Math.Max(longest, candidate.Length);
        var tailStart = Math.Max(0, from - longest + 1);
        var tailLength = text.Length - tailStart;
        if (_tail.Length < tailLength)
            _tail = new char[Math.Max(tailLength, 2 * _tail.Length)];
        text.CopyTo(tailStart, _tail, 0, tailLength);
        var tail = _tail.AsSpan(0, tailLength);
        foreach (var candidate in stops)
        {
            var start = Math.Max(0, from - candidate.Length + 1) - tailStart;
            var i = tail[start..].IndexOf(candidate, StringComparison.Ordinal);
            if (i >= 0 && tailStart + start + i < at)
            {
                at = tailStart + start + i;
                stop = candidate;
            }
        }
        return stop is not null;
    }

    /// <summary>Length of the longest end of the text that could begin a stop sequence; that much is held back from streaming.</summary>
    private static int LongestStopPrefixSuffix(StringBuilder text, IReadOnlyList<string> stops, int emitted)
    {
        var longest = 0;
        foreach (var stop in stops)
            for (var len = Math.Min(stop.Length - 1, text.Length - emitted); len > longest; len--)
            {
                var match = true;
                for (var i = 0; i < len && match; i++)
                    match = text[text.Length - len + i] == stop[i];
                if (match)
                {
                    longest = len;
                    break;
                }
            }
        return longest;
    }
}
