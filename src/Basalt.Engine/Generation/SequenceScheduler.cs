using Basalt.Engine.Models;

namespace Basalt.Engine.Generation;

/// <summary>How a <see cref="SequenceScheduler"/> shares one loaded model between concurrent requests.</summary>
public sealed record SchedulerOptions
{
    /// <summary>Default bytes of prompt prefixes kept for reuse.</summary>
    public const long DefaultPrefixCacheBytes = 256L * 1024 * 1024;

    /// <summary>Most sequences decoded together; more wait their turn.</summary>
    public int MaxSequences { get; init; } = 16;
    /// <summary>Most requests waiting for a slot; one more is refused as busy.</summary>
    public int MaxWaiting { get; init; } = 256;
    /// <summary>Memory the model may use in all: weights, the KV caches of running sequences and the prefix cache; 0 for no limit.</summary>
    public long MemoryBudgetBytes { get; init; }
    /// <summary>Most bytes of prompt prefixes kept for reuse (within the memory budget); 0 turns prefix caching off.</summary>
    public long PrefixCacheBytes { get; init; } = DefaultPrefixCacheBytes;
    /// <summary>Tokens per prefix cache block.</summary>
    public int BlockTokens { get; init; } = PrefixCache.DefaultBlockTokens;
    /// <summary>Clock for cache point TTLs (tests move it by hand).</summary>
    public TimeProvider? Time { get; init; }
}

/// <summary>One request to a <see cref="SequenceScheduler"/>.</summary>
public sealed record SequenceRequest
{
    /// <summary>Prompt token ids (at least one).</summary>
    public required int[] Prompt { get; init; }
    /// <summary>Sampling and stopping.</summary>
    public required GenerationOptions Options { get; init; }
    /// <summary>Bedrock's performanceConfig.latency = optimized: admitted and prefilled ahead of standard requests.</summary>
    public bool LatencyOptimized { get; init; }
    /// <summary>Prompt prefixes to keep cached (Converse cachePoint blocks mapped to token offsets).</summary>
    public IReadOnlyList<CachePoint> CachePoints { get; init; } = [];
    /// <summary>Positions the sequence may use, prompt included (default: the model's context length).</summary>
    public int? ContextLength { get; init; }
}

/// <summary>The request's KV cache does not fit the model's memory budget: never (<see cref="NeverFits"/>), or not now
/// because too many requests are waiting.</summary>
public sealed class SequenceMemoryException(string message, bool neverFits) : Exception(message)
{
    /// <summary>True when the request cannot run even on an idle model; false when the model is busy.</summary>
    public bool NeverFits { get; } = neverFits;
}

/// <summary>Continuous batching for one loaded model: concurrent requests run together, each forward step holding one decode
/// token of every running sequence plus a chunk of a waiting prompt, so a step over N sequences reads the weights once.
/// Sequences join and leave at token boundaries; sampling, stop sequences, streaming and cancellation stay per sequence.
/// Prompts reuse cached prefixes (<see cref="PrefixCache"/>); latency-optimized requests are admitted and prefilled first;
/// a request whose keys and values do not fit the memory budget waits, or is refused when it never could fit.</summary>
public sealed class SequenceScheduler : IDisposable
{
    private readonly LanguageModel _model;
    private readonly SchedulerOptions _options;
    private readonly object _gate = new();
    private readonly List<Sequence> _waiting = [];
    private readonly List<Sequence> _running = [];
    private readonly List<Sequence> _finished = [];
    private readonly List<PrefixCache.Block> _hits = [];
    private readonly long _kvBytesPerToken;
    private readonly int _maxBatchTokens;
    private readonly BatchState _batch;
    private readonly BatchToken[] _step;
    private readonly Thread _thread;
    private long _arrivals;
    private long _runningKvBytes;
    private bool _started;
    private volatile bool _disposed;

    private sealed class Sequence(SequenceRequest request, SequenceDecoder decoder, long arrival, int positions)
    {
        public readonly SequenceRequest Request = request;
        public readonly SequenceDecoder Decoder = decoder;
        public readonly long Arrival = arrival;
        public readonly int Positions = positions;
        public readonly TaskCompletionSource<GenerationResult> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public KvCache? Cache;
        public int LogitsRow;
        public int[] Tokens = [];
        public int Pos;             // positions whose keys and values are in the cache
        public int Length;          // tokens known: the prompt, then each sampled token
        public int Cached;          // prompt tokens restored from the prefix cache
        public int Written;         // prompt tokens written to the prefix cache under a cache point
        public long KvBytes;
        public bool Prefilled;
        public int StepTokens;      // tokens of this sequence in the current step
        public bool Logits;         // whether the current step computes its logits

        public int Priority => Request.LatencyOptimized ? 0 : 1;
    }

    internal SequenceScheduler(LanguageModel model, SchedulerOptions options, bool start = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxWaiting, 0);
        _model = model;
        _options = options;
        var c = model.Config;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxSequences, MaxSequencesLimit);
        _kvBytesPerToken = KvBytesPerToken(c, model.KvCacheType);
        // Room for one decode token of every sequence plus a prompt chunk.
        _maxBatchTokens = Math.Max(model.MaxBatchTokens, options.MaxSequences + MinPromptChunk);
        _batch = new BatchState(c, _maxBatchTokens, model.ContextLength, logitsRows: options.MaxSequences);
        _step = new BatchToken[_maxBatchTokens];
        var prefixBudget = Math.Min(options.PrefixCacheBytes, options.MemoryBudgetBytes > 0 ? Math.Max(0, options.MemoryBudgetBytes - model.WeightBytes) : long.MaxValue);
        PrefixCache = new PrefixCache(options.BlockTokens, _kvBytesPerToken * options.BlockTokens, prefixBudget,
            () => model.CreateKvCache(options.BlockTokens), options.Time);
        _thread = new Thread(Run) { IsBackground = true, Name = "basalt-scheduler" };
        if (start)
            Start();
    }

    /// <summary>Most sequences one scheduler decodes together.</summary>
    public const int MaxSequencesLimit = 64;

    /// <summary>How often a request that fits no memory while nothing runs is looked at again.</summary>
    private static readonly TimeSpan IdleRecheck = TimeSpan.FromMilliseconds(200);

    /// <summary>Prompt tokens a step always has room for besides the decode tokens, so waiting prompts keep moving.</summary>
    private const int MinPromptChunk = 16;

    /// <summary>The prefix cache the scheduler fills and reads.</summary>
    internal PrefixCache PrefixCache { get; }

    /// <summary>Bytes of keys and values one position takes.</summary>
    public long KvBytesPerPosition => _kvBytesPerToken;

    /// <summary>Sequences running now.</summary>
    public int Running
    {
        get { lock (_gate) return _running.Count; }
    }

    /// <summary>Starts the scheduling thread (a scheduler created stopped lets tests queue requests deterministically).</summary>
    internal void Start()
    {
        lock (_gate)
        {
            if (_started)
                return;
            _started = true;
        }
        _thread.Start();
    }

    /// <summary>Queues a request; the task completes when it ends. <paramref name="onToken"/> runs on the scheduling thread
    /// and must return quickly (hand the text to a channel); returning false stops the sequence as cancelled.
    /// Throws <see cref="ContextOverflowException"/> when the prompt does not fit the context and
    /// <see cref="SequenceMemoryException"/> when its keys and values cannot fit the budget or the queue is full.</summary>
    public Task<GenerationResult> Submit(SequenceRequest request, Func<GeneratedToken, bool>? onToken = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var options = request.Options;
        options.Validate();
        var prompt = request.Prompt;
        if (prompt.Length == 0)
            throw new ArgumentException("The prompt needs at least one token (usually BOS).", nameof(request));
        var context = request.ContextLength ?? _model.ContextLength;
        if (context < 1 || context > _model.Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(request), $"Context length must be between 1 and the model's {_model.Config.ContextLength}, got {context}.");
        if (prompt.Length > context)
            throw new ContextOverflowException(prompt.Length, context);
        var vocab = _model.Config.VocabSize;
        foreach (var t in prompt)
            if ((uint)t >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(request), $"Token id {t} is outside the vocabulary (0..{vocab - 1}).");

        // The sequence needs positions for its prompt and every token it may generate, no more.
        var positions = (int)Math.Min(context, (long)prompt.Length + options.MaxTokens);
        var need = positions * _kvBytesPerToken;
        if (_options.MemoryBudgetBytes > 0 && _model.WeightBytes + need > _options.MemoryBudgetBytes)
            throw new SequenceMemoryException(
                $"The request needs {Mib(need)} MiB of KV cache ({positions} positions) but the model's memory budget of {Mib(_options.MemoryBudgetBytes)} MiB " +
                $"leaves {Mib(Math.Max(0, _options.MemoryBudgetBytes - _model.WeightBytes))} MiB after the weights; lower maxTokens, shorten the prompt, use the Q8_0 KV cache or raise the budget.",
                neverFits: true);

        var decoder = new SequenceDecoder(_model.Tokenizer, vocab, options, prompt[^1], onToken, ct);
        Sequence seq;
        lock (_gate)
        {
            if (_waiting.Count >= _options.MaxWaiting)
                throw new SequenceMemoryException($"The model is busy: {_waiting.Count} requests are already waiting. Retry shortly.", neverFits: false);
            seq = new Sequence(request, decoder, _arrivals++, positions);
            _waiting.Add(seq);
            Monitor.Pulse(_gate);
        }
        return seq.Done.Task;
    }

    private static long Mib(long bytes) => (bytes + (1 << 20) - 1) >> 20;

    /// <summary>Bytes of keys and values one position of a sequence takes in <paramref name="c"/>'s KV cache of <paramref name="type"/>
    /// (as allocated: Q8_0 falls back to F16 for heads that are not whole blocks).</summary>
    internal static long KvBytesPerToken(ModelConfig c, KvCacheType type) => new KvCache(c, 1, type).Bytes;

    private void Run()
    {
        while (true)
        {
            lock (_gate)
            {
                while (!_disposed && _waiting.Count == 0 && _running.Count == 0)
                    Monitor.Wait(_gate);
                if (_disposed)
                    break;
            }
            try
            {
                Step();
                lock (_gate)
                    if (!_disposed && _running.Count == 0 && _waiting.Count > 0)
                        // Nothing fits now (pinned prefixes hold the memory until their TTL): check again soon, not in a spin.
                        Monitor.Wait(_gate, IdleRecheck);
            }
            catch (Exception e)
            {
                // A failure in a step (a bug, or memory the machine did not have) fails the sequences it ran, not the process;
                // the waiting ones get their turn.
                lock (_gate)
                {
                    foreach (var s in _running)
                    {
                        s.Done.TrySetException(e);
                        _runningKvBytes -= s.KvBytes;
                        s.Cache = null;
                    }
                    _running.Clear();
                }
                _finished.Clear();
            }
        }
        FailAll(new ObjectDisposedException(nameof(SequenceScheduler)));
    }

    private void FailAll(Exception e)
    {
        lock (_gate)
        {
            foreach (var s in _running) s.Done.TrySetException(e);
            foreach (var s in _waiting) s.Done.TrySetException(e);
            _running.Clear();
            _waiting.Clear();
        }
    }

    /// <summary>One forward step: admit what fits, run one decode token of each running sequence and prompt chunks, sample.</summary>
    private void Step()
    {
        Admit();
        var budget = _maxBatchTokens;
        // Decode tokens first: a running sequence never waits for another's prompt.
        foreach (var s in _running)
        {
            s.StepTokens = 0;
            s.Logits = false;
            if (s.Decoder.IsCancelled)
            {
                s.Decoder.Cancel();
                _finished.Add(s);
                continue;
            }
            if (s.Prefilled)
            {
                s.StepTokens = 1;
                s.Logits = true;
                budget--;
            }
        }
        // Then prompt chunks, latency-optimized requests first (the running list is kept in that order).
        foreach (var s in _running)
        {
            if (s.Prefilled || s.Decoder.Finish is not null || budget <= 0)
                continue;
            var chunk = Math.Min(budget, s.Length - s.Pos);
            s.StepTokens = chunk;
            s.Logits = s.Pos + chunk == s.Length;
            budget -= chunk;
        }

        Forward();

        foreach (var s in _running)
        {
            if (s.StepTokens == 0)
                continue;
            s.Pos += s.StepTokens;
            if (!s.Logits)
                continue;
            if (!s.Prefilled)
            {
                s.Prefilled = true;
                if (_options.MemoryBudgetBytes > 0)
                    // The prefix cache gets what the running sequences leave of the budget (never more than its own size).
                    PrefixCache.Resize(Math.Min(_options.PrefixCacheBytes, _options.MemoryBudgetBytes - _model.WeightBytes - _runningKvBytes));
                if (_options.PrefixCacheBytes > 0)
                    s.Written = PrefixCache.Insert(s.Tokens.AsSpan(0, s.Request.Prompt.Length), s.Request.Prompt.Length, s.Cache!, s.Request.CachePoints);
            }
            int next;
            try
            {
                next = s.Decoder.Next(_batch.Logits(s.LogitsRow), s.Tokens.AsSpan(0, s.Length), s.Length >= s.Positions);
            }
            catch (Exception e)
            {
                s.Done.TrySetException(e);
                _finished.Add(s);
                continue;
            }
            if (next < 0)
                _finished.Add(s);
            else if (s.Decoder.Generated >= s.Request.Options.MaxTokens)
            {
                // The last token allowed: its keys and values would never be read, so skip its forward step.
                s.Decoder.Next([], default, contextFull: true);
                _finished.Add(s);
            }
            else
                s.Tokens[s.Length++] = next;
        }
        Retire();
    }

    /// <summary>Runs the step's tokens through the model in one batched pass: the weights are read once for all of them.</summary>
    private void Forward()
    {
        var n = 0;
        var rows = 0;
        foreach (var s in _running)
        {
            s.LogitsRow = -1;
            for (var i = 0; i < s.StepTokens; i++)
            {
                var pos = s.Pos + i;
                var row = s.Logits && i == s.StepTokens - 1 ? rows++ : -1;
                if (row >= 0)
                    s.LogitsRow = row;
                _step[n++] = new BatchToken(s.Cache!, s.Tokens[pos], pos, row);
            }
        }
        if (n == 0)
            return;
        lock (_model.ForwardLock)
            _model.Transformer.Forward(_batch, _step.AsSpan(0, n));
        Array.Clear(_step, 0, n); // drop the caches' references until the next step
    }

    private void Admit()
    {
        lock (_gate)
        {
            // Cancelled requests leave the queue without running.
            for (var i = _waiting.Count - 1; i >= 0; i--)
                if (_waiting[i].Decoder.IsCancelled)
                {
                    var s = _waiting[i];
                    _waiting.RemoveAt(i);
                    s.Decoder.Cancel();
                    s.Done.TrySetResult(s.Decoder.Complete(s.Request.Prompt.Length, 0, 0));
                }
            if (_waiting.Count == 0 || _running.Count >= _options.MaxSequences)
                return;
            _waiting.Sort(static (a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : a.Arrival.CompareTo(b.Arrival));
        }
        while (true)
        {
            Sequence s;
            lock (_gate)
            {
                if (_waiting.Count == 0 || _running.Count >= _options.MaxSequences)
                    return;
                s = _waiting[0];
            }
            var need = s.Positions * _kvBytesPerToken;
            if (!Fits(need))
                return; // wait in order: a later, smaller request does not overtake (priorities stay meaningful)
            lock (_gate)
                _waiting.RemoveAt(0);
            try
            {
                Prepare(s, need);
            }
            catch (OutOfMemoryException)
            {
                _runningKvBytes -= s.KvBytes;
                s.Cache = null;
                s.Done.TrySetException(new SequenceMemoryException(
                    $"The machine has no memory for the request's {Mib(need)} MiB KV cache now; retry shortly, or set the model's memory budget (modelMemoryMb) so requests wait instead.",
                    neverFits: false));
                continue;
            }
            lock (_gate)
            {
                var at = _running.Count;
                while (at > 0 && _running[at - 1].Priority > s.Priority)
                    at--;
                _running.Insert(at, s);
            }
        }
    }

    /// <summary>Whether <paramref name="need"/> more bytes of KV fit the budget, evicting unpinned prefix blocks to make room.</summary>
    private bool Fits(long need)
    {
        var budget = _options.MemoryBudgetBytes;
        if (budget <= 0)
            return true;
        var room = budget - _model.WeightBytes - _runningKvBytes - need;
        if (room < 0)
            return false;
        return PrefixCache.TrimTo(room) <= room;
    }

    private void Prepare(Sequence s, long need)
    {
        var prompt = s.Request.Prompt;
        s.Cache = _model.CreateKvCache(s.Positions);
        s.KvBytes = need;
        _runningKvBytes += need;
        s.Tokens = new int[s.Positions];
        prompt.CopyTo(s.Tokens, 0);
        s.Length = prompt.Length;
        // Always compute the last prompt token: its logits give the first sampled token.
        s.Cached = PrefixCache.Count > 0 ? PrefixCache.Lookup(prompt, prompt.Length - 1, _hits) : 0;
        if (s.Cached > 0)
            PrefixCache.Restore(_hits, s.Cache);
        _hits.Clear();
        s.Pos = s.Cached;
    }

    private void Retire()
    {
        if (_finished.Count == 0)
            return;
        foreach (var s in _finished)
        {
            lock (_gate)
                _running.Remove(s);
            _runningKvBytes -= s.KvBytes;
            s.Cache = null;
            if (!s.Done.Task.IsCompleted)
            {
                try
                {
                    s.Done.TrySetResult(s.Decoder.Complete(s.Request.Prompt.Length, s.Cached, s.Written));
                }
                catch (Exception e)
                {
                    s.Done.TrySetException(e);
                }
            }
        }
        _finished.Clear();
    }

    /// <summary>Stops the scheduling thread; requests still queued or running fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        bool started;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            started = _started;
            Monitor.PulseAll(_gate);
        }
        if (started && Thread.CurrentThread != _thread)
            _thread.Join();
        FailAll(new ObjectDisposedException(nameof(SequenceScheduler)));
    }
}
