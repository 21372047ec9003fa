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

        var decoder = new SequenceDecoder(_model.Tokenizer, _model.Transformer.Config.VocabSize, options, prompt[^1], onToken, ct);
        var pos = reuse;
        // The prompt runs in chunks of MaxBatchTokens through the batched forward pass; only its last token needs logits.
        while (pos < prompt.Length)
        {
            if (ct.IsCancellationRequested)
            {
                decoder.Cancel();
                return decoder.Complete(prompt.Length, reuse, 0);
            }
            var count = Math.Min(_chunk.Length, prompt.Length - pos);
            for (var i = 0; i < count; i++)
                _chunk[i] = new BatchToken(_cache, prompt[pos + i], pos + i, pos + i == prompt.Length - 1 ? 0 : -1);
            Run(count);
            pos += count;
        }

        while (true)
        {
            var next = decoder.Next(_batch.Logits(0), _tokens.AsSpan(0, pos), pos >= ContextLength);
            if (next < 0)
                break;
            _tokens[pos] = next;
            _chunk[0] = new BatchToken(_cache, next, pos, 0);
            Run(1);
            pos++;
        }
        return decoder.Complete(prompt.Length, reuse, 0);
    }

    private void Run(int count)
    {
        lock (_model.ForwardLock)
            _model.Transformer.Forward(_batch, _chunk.AsSpan(0, count));
        _cached = _chunk[count - 1].Position + 1;
    }
}
