using Basalt.Engine.Generation;
using Basalt.Engine.Gguf;
using Basalt.Engine.Threading;
using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Models;

/// <summary>How to load a model.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>Threads for the forward pass (default: all processors).</summary>
    public int? Threads { get; init; }
    /// <summary>Upper bound on the context length (default <see cref="LanguageModel.DefaultMaxContext"/>; the model's own limit always applies).</summary>
    public int? MaxContextLength { get; init; }
    /// <summary>Element type of the KV cache (default F16, as llama.cpp; Q8_0 halves it again at a small accuracy cost).</summary>
    public KvCacheType KvCacheType { get; init; } = KvCacheType.F16;
    /// <summary>Most tokens one forward pass takes (default <see cref="LanguageModel.DefaultMaxBatchTokens"/>): the prompt runs in chunks of this many.</summary>
    public int? MaxBatchTokens { get; init; }
    /// <summary>Read the weights in place from the file's memory mapping (4 KiB pages) instead of holding them in native memory backed by
    /// transparent huge pages (the default: Q8_0 repacked into octets, every other matrix copied unchanged on Linux, the mapping's pages
    /// released as they are copied). Loads faster; decodes slower. Chosen automatically, whatever this says, when the copy would not fit
    /// in the memory the process can use (<see cref="LanguageModel.WeightsMappedForMemory"/>): the kernel then pages the mapping.</summary>
    public bool KeepWeightsMapped { get; init; }

    /// <summary>Most bytes of weights to copy into native memory (default <see cref="LanguageModel.NativeWeightBudget"/>); tests set it.</summary>
    internal long? NativeWeightLimit { get; init; }
}

/// <summary>Why a model's weights were left on the file's mapping: copying <paramref name="WeightBytes"/> bytes would exceed the
/// <paramref name="BudgetBytes"/> the process can hold.</summary>
internal readonly record struct WeightMemoryFallback(long WeightBytes, long BudgetBytes)
{
    /// <summary>The sentence the local provider logs and <c>basalt bench</c> prints.</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{WeightBytes / 1048576.0:F1} MiB of weights exceed the {BudgetBytes / 1048576.0:F1} MiB of memory this process can copy them into; read from the file's mapping instead, which decodes slower");
}

/// <summary>A GGUF model loaded for inference: config, weights (copied into native memory, or read from the file's mapping), tokenizer and chat template.
/// Create one <see cref="Generator"/> per concurrent sequence; the forward passes of several generators take turns token by token.</summary>
public sealed class LanguageModel : IDisposable
{
    /// <summary>Context length used when the caller sets none: keeps the KV cache of long-context models to a sensible size.</summary>
    public const int DefaultMaxContext = 4096;
    /// <summary>Prompt chunk used when the caller sets none: enough rows that each weight tile is reused many times, while the
    /// activation matrices stay a few MiB.</summary>
    public const int DefaultMaxBatchTokens = 64;

    private readonly GgufFile _file;
    private readonly WorkerPool _pool;

    private LanguageModel(GgufFile file, ModelConfig config, ModelWeights weights, Tokenizer tokenizer, int contextLength, WorkerPool pool, ModelLoadOptions options,
        WeightMemoryFallback? mappedForMemory)
    {
        WeightsMappedForMemory = mappedForMemory;
        _file = file;
        _pool = pool;
        Transformer = new Transformer(config, weights, pool);
        Tokenizer = tokenizer;
        ContextLength = contextLength;
        ChatTemplate = file.GetString(GgufKeys.ChatTemplate, null);
        KvCacheType = options.KvCacheType;
        MaxBatchTokens = options.MaxBatchTokens ?? DefaultMaxBatchTokens;
    }

    /// <summary>Opens <paramref name="path"/>, reads its architecture and binds its tensors (see <see cref="ModelLoadOptions.KeepWeightsMapped"/>).
    /// Throws <see cref="GgufFormatException"/> with the reason when the file cannot be used.</summary>
    public static LanguageModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        var threads = options.Threads ?? Environment.ProcessorCount;
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"Threads must be at least 1, got {threads}.");
        if (options.MaxBatchTokens is < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxBatchTokens must be at least 1, got {options.MaxBatchTokens}.");
        if (!Enum.IsDefined(options.KvCacheType))
            throw new ArgumentOutOfRangeException(nameof(options), $"KvCacheType {options.KvCacheType} is not one of F32, F16, Q8_0.");
        var file = GgufFile.Open(path);
        ModelWeights? weights = null;
        WorkerPool? pool = null;
        try
        {
            var architecture = Models.Architecture.For(file);
            var config = architecture.ReadConfig(file);
            config.Validate(file.Name);
            // Copied weights are ordinary memory, not page cache: a model that does not fit stays on the mapping, which the kernel pages.
            // Only what would be copied counts (off Linux, the Q8_0 matrices alone).
            WeightMemoryFallback? mappedForMemory = null;
            if (!options.KeepWeightsMapped)
            {
                var needed = WeightBinder.MatrixBytes(file);
                var budget = options.NativeWeightLimit ?? NativeWeightBudget();
                if (needed > budget)
                    mappedForMemory = new WeightMemoryFallback(needed, budget);
            }
            weights = architecture.Bind(file, config, repack: !options.KeepWeightsMapped && mappedForMemory == null);
            var tokenizer = Tokenizer.FromGguf(file);
            if (tokenizer.VocabSize > config.VocabSize)
                throw new GgufFormatException(file.Name, $"the tokenizer has {tokenizer.VocabSize} tokens but the model only {config.VocabSize} embeddings");
            var context = Math.Min(config.ContextLength, options.MaxContextLength ?? DefaultMaxContext);
            pool = new WorkerPool(threads);
            return new LanguageModel(file, config, weights, tokenizer, context, pool, options, mappedForMemory);
        }
        catch
        {
            // The native copies of the weights and the worker threads of a load that failed after making them.
            pool?.Dispose();
            weights?.Dispose();
            file.Dispose();
            throw;
        }
    }

    // Left free beside the copied weights, as a share of the memory available at load: the KV caches, the run states, the prefix
    // cache and the rest of the process and the machine need room too.
    private const int BudgetMarginDivisor = 8;
    private const long MinBudgetMargin = 512L << 20;

    /// <summary>Bytes of weights this process can copy into native memory now: the lesser of the memory the GC sees as available to the
    /// process (physical memory or the container's limit) and, on Linux, MemAvailable in /proc/meminfo, less a margin of 1/8 of it (at
    /// least 512 MiB). Unknown (neither readable): no limit.</summary>
    internal static long NativeWeightBudget()
    {
        var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (MemAvailable() is { } free)
            available = available > 0 ? Math.Min(available, free) : free;
        return available > 0 ? available - Math.Max(available / BudgetMarginDivisor, MinBudgetMargin) : long.MaxValue;
    }

    // MemAvailable from /proc/meminfo ("MemAvailable:   12345678 kB"), or null where there is none.
    private static long? MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts.Length >= 2 && long.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var kb) ? kb * 1024 : null;
                }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>Set when the weights were left on the file's mapping because copying them would not fit in memory
    /// (<see cref="NativeWeightBudget"/>); null when they were copied or the caller asked for the mapping.</summary>
    internal WeightMemoryFallback? WeightsMappedForMemory { get; }

    internal Transformer Transformer { get; }
    internal WorkerPool Pool => _pool;
    /// <summary>Serialises forward passes of concurrent generators over the one worker pool.</summary>
    internal object ForwardLock { get; } = new();

    /// <summary>The model's tokenizer.</summary>
    public Tokenizer Tokenizer { get; }
    /// <summary>The Jinja chat template from tokenizer.chat_template, if the file has one.</summary>
    public string? ChatTemplate { get; }
    /// <summary>Context length generators get by default.</summary>
    public int ContextLength { get; }
    /// <summary>general.architecture.</summary>
    public string Architecture => Transformer.Config.Architecture;
    /// <summary>Bytes of weights the forward pass reads.</summary>
    public long WeightBytes => Transformer.Weights.Bytes;
    /// <summary>Bytes of weights repacked or copied at load into native memory (the file's pages for them are released on Linux); read by
    /// the tests and the bench's load line.</summary>
    internal long RepackedWeightBytes => Transformer.Weights.RepackedBytes;
    /// <summary>Threads the forward pass uses.</summary>
    public int Threads => _pool.Threads;
    /// <summary>The model's hyper-parameters.</summary>
    public ModelConfig Config => Transformer.Config;
    /// <summary>Element type of the KV caches this model's generators allocate.</summary>
    public KvCacheType KvCacheType { get; }
    /// <summary>Most tokens one forward pass takes; the prompt runs in chunks of this many.</summary>
    public int MaxBatchTokens { get; }

    /// <summary>A KV cache for one sequence of up to <paramref name="contextLength"/> tokens, of this model's cache type.</summary>
    internal KvCache CreateKvCache(int contextLength) => new(Transformer.Config, contextLength, KvCacheType);

    /// <summary>A generator with its own run state and KV cache for <paramref name="contextLength"/> tokens (default <see cref="ContextLength"/>).</summary>
    public Generator CreateGenerator(int? contextLength = null)
    {
        var length = contextLength ?? ContextLength;
        if (length < 1 || length > Transformer.Config.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(contextLength), $"Context length must be between 1 and the model's {Transformer.Config.ContextLength}, got {length}.");
        return new Generator(this, length);
    }

    /// <summary>A scheduler that runs concurrent requests on this model together (continuous batching with prefix caching).
    /// Dispose it before the model.</summary>
    public SequenceScheduler CreateScheduler(SchedulerOptions? options = null) => new(this, options ?? new SchedulerOptions());

    /// <summary>Stops the worker threads, frees the weights held in native memory and unmaps the file; no generator or scheduler of
    /// the model may run afterwards.</summary>
    public void Dispose()
    {
        _pool.Dispose();
        Transformer.Weights.Dispose();
        _file.Dispose();
    }
}
