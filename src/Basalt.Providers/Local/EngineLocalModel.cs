using Basalt.Core.Conversation;
using Basalt.Engine.Generation;
using Basalt.Engine.Models;

namespace Basalt.Providers.Local;

/// <summary>Adapts Basalt.Engine's LanguageModel to the local provider. The store runs one generation at a time
/// per model, so one generator (run state and KV cache) is kept and reused, which also lets the engine reuse
/// a shared prompt prefix between turns.</summary>
internal sealed class EngineLocalModel : ILocalModel
{
    private readonly LanguageModel _model;
    private Generator? _generator;
    private int _generatorContext;

    private EngineLocalModel(LanguageModel model)
    {
        _model = model;
        var tokenizer = model.Tokenizer;
        BosText = tokenizer.BosId >= 0 ? tokenizer.TokenText(tokenizer.BosId) : "";
        EosText = tokenizer.EosId >= 0 ? tokenizer.TokenText(tokenizer.EosId) : "";
    }

    public static ILocalModel Load(string path) => new EngineLocalModel(LanguageModel.Load(path));

    public string? ChatTemplate => _model.ChatTemplate;

    public int ContextLength => _model.ContextLength;

    public long WeightBytes => _model.WeightBytes;

    public string BosText { get; }

    public string EosText { get; }

    public int[] Tokenize(string text, bool addSpecial) => _model.Tokenizer.Encode(text, addSpecial, parseSpecial: true);

    public LocalGenerationResult Generate(int[] prompt, LocalSampling sampling, Func<int, string, bool> onToken, CancellationToken cancellationToken)
    {
        if (_generator is null || _generatorContext != sampling.ContextLength)
        {
            _generator = _model.CreateGenerator(sampling.ContextLength);
            _generatorContext = sampling.ContextLength;
        }
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
        GenerationResult result;
        try
        {
            result = _generator.Generate(prompt, options, t => onToken(t.Id, t.Text), cancellationToken);
        }
        catch (ContextOverflowException e)
        {
            throw BasaltException.Validation(e.Message);
        }
        var finish = result.FinishReason switch
        {
            FinishReason.EndOfGeneration => LocalFinish.EndOfGeneration,
            FinishReason.MaxTokens => LocalFinish.MaxTokens,
            _ => LocalFinish.Stopped,
        };
        return new LocalGenerationResult(result.PromptTokens, result.GeneratedTokens, finish);
    }

    public void Dispose()
    {
        _model.Dispose();
    }
}
