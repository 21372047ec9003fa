using Basalt.Engine.Models;

namespace Basalt.Engine.Generation;

/// <summary>Generates text for one sequence at a time: owns its run state and KV cache, allocated when created.
/// A prompt sharing a prefix with the previous call's tokens reuses their keys and values. Not thread-safe: one caller at a time.</summary>
public sealed class Generator
{
    private readonly LanguageModel _model;
    private readonly ForwardContext _ctx;
    private readonly Sampler _sampler;
    private readonly int[] _tokens;
    private int _cached;

    internal Generator(LanguageModel model, int contextLength)
    {
        _model = model;
        ContextLength = contextLength;
        _ctx = new ForwardContext(model.Transformer, contextLength, model.Pool);
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

        var decoder = new SequenceDecoder(_model.Tokenizer, _model.Transformer.Config.VocabSize, options, prompt[^1], onToken, ct);
        var pos = reuse;
        while (pos < prompt.Length)
        {
            if (ct.IsCancellationRequested)
            {
                decoder.Cancel();
                return decoder.Complete(prompt.Length, reuse, 0);
            }
            Step(prompt[pos], pos, computeLogits: pos == prompt.Length - 1);
            pos++;
        }

        while (true)
        {
            var next = decoder.Next(_ctx.State.Logits, _tokens.AsSpan(0, pos), pos >= ContextLength);
            if (next < 0)
                break;
            _tokens[pos] = next;
            Step(next, pos, computeLogits: true);
            pos++;
        }
        return decoder.Complete(prompt.Length, reuse, 0);
    }

    private void Step(int token, int pos, bool computeLogits)
    {
        lock (_model.ForwardLock)
            _model.Transformer.Forward(_ctx, token, pos, computeLogits);
        _cached = pos + 1;
    }
}
