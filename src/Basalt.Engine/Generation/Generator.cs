using System.Text;
using Basalt.Engine.Models;

namespace Basalt.Engine.Generation;

/// <summary>Generates text for one sequence at a time: owns its run state and KV cache, allocated when created.
/// A prompt sharing a prefix with the previous call's tokens reuses their keys and values. Not thread-safe: one caller at a time.</summary>
public sealed class Generator
{
    private readonly LanguageModel _model;
    private readonly KvCache _cache;
    private readonly BatchState _batch;
    private readonly BatchToken[] _chunk;
    private readonly Sampler _sampler;
    private readonly int[] _tokens;
    private int _cached;

    internal Generator(LanguageModel model, int contextLength)
    {
        _model = model;
        ContextLength = contextLength;
        _cache = model.CreateKvCache(contextLength);
        // One logits row: only the last prompt token and each generated token need logits.
        _batch = new BatchState(model.Transformer.Config, model.MaxBatchTokens, contextLength, logitsRows: 1);
        _chunk = new BatchToken[model.MaxBatchTokens];
        _sampler = new Sampler(model.Transformer.Config.VocabSize);
        _tokens = new int[contextLength];
    }

    /// <summary>Tokens this generator's KV cache holds.</summary>
    public int ContextLength { get; }

    /// <summary>Feeds <paramref name="prompt"/> and generates until an end-of-generation token, a stop sequence, MaxTokens, a full context,
    /// cancellation, or <paramref name="onToken"/> returning false. Throws <see cref="ContextOverflowException"/> when the prompt does not fit.</summary>
    public GenerationResult Generate(ReadOnlySpan<int> prompt, GenerationOptions options, Func<GeneratedToken, bool>? onToken = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (prompt.IsEmpty)
            throw new ArgumentException("The prompt needs at least one token (usually BOS).", nameof(prompt));
        if (prompt.Length > ContextLength)
            throw new ContextOverflowException(prompt.Length, ContextLength);
        var vocab = _model.Transformer.Config.VocabSize;
        foreach (var t in prompt)
            if ((uint)t >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(prompt), $"Token id {t} is outside the vocabulary (0..{vocab - 1}).");

        // Reuse the cached prefix, but always recompute the last prompt token to get its logits.
        var reuse = 0;
        var limit = Math.Min(_cached, prompt.Length - 1);
        while (reuse < limit && _tokens[reuse] == prompt[reuse])
            reuse++;
        prompt.CopyTo(_tokens);
        _cached = reuse;

        var tokenizer = _model.Tokenizer;
        var decoder = tokenizer.CreateStreamingDecoder();
        var rng = new Rng(options.Seed ?? (ulong)Random.Shared.NextInt64());
        var text = new StringBuilder();
        var emitted = 0; // chars of text already handed to onToken
        var generated = 0;
        FinishReason? finish = null;
        string? matched = null;

        var promptLength = prompt.Length;
        var pos = reuse;
        // The prompt runs in chunks of MaxBatchTokens through the batched forward pass; only its last token needs logits.
        while (pos < prompt.Length)
        {
            if (ct.IsCancellationRequested)
                return Done(FinishReason.Cancelled);
            var count = Math.Min(_chunk.Length, prompt.Length - pos);
            for (var i = 0; i < count; i++)
                _chunk[i] = new BatchToken(_cache, prompt[pos + i], pos + i, pos + i == prompt.Length - 1 ? 0 : -1);
            Run(count);
            pos += count;
        }

        while (finish is null)
        {
            if (generated >= options.MaxTokens || pos >= ContextLength)
            {
                finish = FinishReason.MaxTokens;
                break;
            }
            if (ct.IsCancellationRequested)
            {
                finish = FinishReason.Cancelled;
                break;
            }
            var window = options.RepeatLastN < 0 ? pos : Math.Min(options.RepeatLastN, pos);
            var next = _sampler.Sample(_batch.Logits(0), options, _tokens.AsSpan(pos - window, window), ref rng);
            generated++;
            if (tokenizer.IsEndOfGeneration(next))
            {
                finish = FinishReason.EndOfGeneration;
                break;
            }
            var piece = decoder.Push(next);
            // SentencePiece's dummy prefix: the first word after BOS decodes with a leading space that is not part of the text
            // (llama2.c and SentencePiece's own decode drop it).
            if (generated == 1 && tokenizer.AddSpacePrefix && prompt[^1] == tokenizer.BosId && piece.StartsWith(' '))
                piece = piece[1..];
            text.Append(piece);
            var safe = text.Length;
            if (options.StopSequences.Count > 0)
            {
                if (FindStop(text, options.StopSequences, emitted, out var at, out var stop))
                {
                    text.Length = at;
                    matched = stop;
                    finish = FinishReason.StopSequence;
                    Emit(next, Math.Max(at, emitted));
                    break;
                }
                safe = text.Length - LongestStopPrefixSuffix(text, options.StopSequences, emitted);
            }
            if (!Emit(next, safe))
            {
                finish = FinishReason.Cancelled;
                break;
            }
            _tokens[pos] = next;
            _chunk[0] = new BatchToken(_cache, next, pos, 0);
            Run(1);
            pos++;
        }
        if (finish != FinishReason.StopSequence)
        {
            text.Append(decoder.Flush());
            if (text.Length > emitted)
                onToken?.Invoke(new GeneratedToken(-1, text.ToString(emitted, text.Length - emitted)));
        }
        return Done(finish.Value);

        bool Emit(int id, int upTo)
        {
            var piece = upTo > emitted ? text.ToString(emitted, upTo - emitted) : "";
            emitted = Math.Max(emitted, upTo);
            return onToken?.Invoke(new GeneratedToken(id, piece)) ?? true;
        }

        GenerationResult Done(FinishReason reason) =>
            new(text.ToString(), promptLength, generated, reason, matched) { CachedPromptTokens = reuse };
    }

    private void Run(int count)
    {
        lock (_model.ForwardLock)
            _model.Transformer.Forward(_batch, _chunk.AsSpan(0, count));
        _cached = _chunk[count - 1].Position + 1;
    }

    /// <summary>Earliest stop sequence occurrence that ends after <paramref name="from"/> (earlier text was already checked).</summary>
    private static bool FindStop(StringBuilder text, IReadOnlyList<string> stops, int from, out int at, out string? stop)
    {
        at = int.MaxValue;
        stop = null;
        var s = text.ToString();
        foreach (var candidate in stops)
        {
            var start = Math.Max(0, from - candidate.Length + 1);
            var i = s.IndexOf(candidate, start, StringComparison.Ordinal);
            if (i >= 0 && i < at)
            {
                at = i;
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
