using Basalt.Core.Conversation;
using Basalt.Engine.Generation;
using Basalt.Engine.Models;

namespace Basalt.Providers.Local;

/// <summary>Adapts Basalt.Engine's LanguageModel to the local provider. Generations go to the model's scheduler, which
/// decodes concurrent requests together and reuses cached prompt prefixes across requests.</summary>
internal sealed class EngineLocalModel : ILocalModel
{
    private readonly LanguageModel _model;
    private readonly SequenceScheduler _scheduler;

    private EngineLocalModel(LanguageModel model, SchedulerOptions scheduling)
    {
        _model = model;
        _scheduler = model.CreateScheduler(scheduling);
        var tokenizer = model.Tokenizer;
        BosText = tokenizer.BosId >= 0 ? tokenizer.TokenText(tokenizer.BosId) : "";
        EosText = tokenizer.EosId >= 0 ? tokenizer.TokenText(tokenizer.EosId) : "";
    }

    public static ILocalModel Load(string path) => Load(path, new LocalProviderOptions());

    public static ILocalModel Load(string path, LocalProviderOptions options)
    {
        var model = LanguageModel.Load(path, new ModelLoadOptions { KvCacheType = options.KvCacheType == "q8_0" ? KvCacheType.Q8_0 : KvCacheType.F16 });
        try
        {
            return new EngineLocalModel(model, new SchedulerOptions
            {
                MaxSequences = options.MaxSequences,
                MemoryBudgetBytes = options.ModelMemoryBytes,
                PrefixCacheBytes = options.PrefixCacheBytes,
            });
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public string? ChatTemplate => _model.ChatTemplate;

    public string? LoadWarning => _model.WeightsMappedForMemory?.ToString();

    public int ContextLength => _model.ContextLength;

    public long WeightBytes => _model.WeightBytes;

    public string BosText { get; }

    public string EosText { get; }

    public bool RunsConcurrently => true;

    public int[] Tokenize(string text, bool addSpecial) => _model.Tokenizer.Encode(text, addSpecial, parseSpecial: true);

    public LocalGenerationResult Generate(int[] prompt, LocalSampling sampling, Func<int, string, bool> onToken, CancellationToken cancellationToken)
    {
        var defaults = new GenerationOptions();
        var options = new GenerationOptions
        {
            MaxTokens = sampling.MaxTokens,
            Temperature = sampling.Temperature ?? defaults.Temperature,
            TopP = sampling.TopP is > 0 and var p ? p : defaults.TopP,
            TopK = sampling.TopK ?? defaults.TopK,
            MinP = sampling.MinP ?? defaults.MinP,
            RepetitionPenalty = sampling.RepetitionPenalty ?? defaults.RepetitionPenalty,
            FrequencyPenalty = sampling.FrequencyPenalty ?? defaults.FrequencyPenalty,
            PresencePenalty = sampling.PresencePenalty ?? defaults.PresencePenalty,
            Seed = sampling.Seed is { } seed ? unchecked((ulong)seed) : null,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw BasaltException.Validation(e.Message);
        }
        var request = new SequenceRequest
        {
            Prompt = prompt,
            Options = options,
            ContextLength = sampling.ContextLength,
            LatencyOptimized = sampling.LatencyOptimized,
            CachePoints = sampling.CachePoints,
        };
        GenerationResult result;
        try
        {
            // The caller runs this on a thread of its own; the scheduler's thread does the work.
            result = _scheduler.Submit(request, t => onToken(t.Id, t.Text), cancellationToken).GetAwaiter().GetResult();
        }
        catch (ContextOverflowException e)
        {
            throw BasaltException.Validation(e.Message);
        }
        catch (SequenceMemoryException e)
        {
            throw e.NeverFits ? BasaltException.Validation(e.Message) : new BasaltException(ErrorKind.Throttling, e.Message);
        }
        var finish = result.FinishReason switch
        {
            FinishReason.EndOfGeneration => LocalFinish.EndOfGeneration,
            FinishReason.MaxTokens => LocalFinish.MaxTokens,
            _ => LocalFinish.Stopped,
        };
        return new LocalGenerationResult(result.PromptTokens, result.GeneratedTokens, finish)
        {
            CacheReadTokens = result.CachedPromptTokens,
            CacheWriteTokens = result.CacheWriteTokens,
        };
    }

    public void Dispose()
    {
        _scheduler.Dispose();
        _model.Dispose();
    }
}
