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
}

/// <summary>A GGUF model loaded for inference: config, weights mapped from the file, tokenizer and chat template.
/// Create one <see cref="Generator"/> per concurrent sequence; the forward passes of several generators take turns token by token.</summary>
public sealed class LanguageModel : IDisposable
{
    /// <summary>Context length used when the caller sets none: keeps the KV cache of long-context models to a sensible size.</summary>
    public const int DefaultMaxContext = 4096;

    private readonly GgufFile _file;
    private readonly WorkerPool _pool;

    private LanguageModel(GgufFile file, Transformer transformer, Tokenizer tokenizer, int contextLength, int threads)
    {
        _file = file;
        Transformer = transformer;
        Tokenizer = tokenizer;
        ContextLength = contextLength;
        ChatTemplate = file.GetString(GgufKeys.ChatTemplate, null);
        _pool = new WorkerPool(threads);
    }

    /// <summary>Opens <paramref name="path"/>, reads its architecture and binds its tensors in place.
    /// Throws <see cref="GgufFormatException"/> with the reason when the file cannot be used.</summary>
    public static LanguageModel Load(string path, ModelLoadOptions? options = null)
    {
        options ??= new ModelLoadOptions();
        var threads = options.Threads ?? Environment.ProcessorCount;
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"Threads must be at least 1, got {threads}.");
        var file = GgufFile.Open(path);
        try
        {
            var architecture = Models.Architecture.For(file);
            var config = architecture.ReadConfig(file);
            config.Validate(file.Name);
            var weights = architecture.Bind(file, config);
            var tokenizer = Tokenizer.FromGguf(file);
            if (tokenizer.VocabSize > config.VocabSize)
                throw new GgufFormatException(file.Name, $"the tokenizer has {tokenizer.VocabSize} tokens but the model only {config.VocabSize} embeddings");
            var context = Math.Min(config.ContextLength, options.MaxContextLength ?? DefaultMaxContext);
            return new LanguageModel(file, new Transformer(config, weights), tokenizer, context, threads);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

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
    /// <summary>Threads the forward pass uses.</summary>
    public int Threads => _pool.Threads;
    /// <summary>The model's hyper-parameters.</summary>
    public ModelConfig Config => Transformer.Config;

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

    /// <summary>Unmaps the file and stops the worker threads.</summary>
    public void Dispose()
    {
        _pool.Dispose();
        _file.Dispose();
    }
}
