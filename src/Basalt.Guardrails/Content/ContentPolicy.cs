namespace Basalt.Guardrails.Content;

/// <summary>A guardrail's content filters (Bedrock's content policy): scores text with the trained content model and
/// applies each filter's strength: HIGH blocks LOW, MEDIUM and HIGH confidence detections, MEDIUM blocks MEDIUM and
/// HIGH, LOW blocks HIGH only, NONE blocks nothing. PROMPT_ATTACK applies to input only. Immutable and thread-safe.</summary>
public sealed class ContentPolicy
{
    private readonly Filter[] _filters;
    private readonly ContentModel _model;

    /// <summary>Builds the policy; throws <see cref="ArgumentException"/> with a message for the user on an unknown or repeated
    /// type, or a PROMPT_ATTACK filter with an output strength other than NONE.</summary>
    public ContentPolicy(IReadOnlyList<ContentFilterConfig> filters)
        : this(filters, null)
    {
    }

    internal ContentPolicy(IReadOnlyList<ContentFilterConfig> filters, ContentModel? model)
    {
        ArgumentNullException.ThrowIfNull(filters);
        var seen = new bool[ContentCategory.Count];
        var list = new List<Filter>(filters.Count);
        foreach (var config in filters)
        {
            var index = ContentCategory.IndexOf(config.Type ?? "");
            if (index < 0)
            {
                throw new ArgumentException($"Content filter type '{config.Type}' is not one of {string.Join(", ", ContentCategory.Names)}.");
            }
            if (seen[index]) throw new ArgumentException($"Content filter type {ContentCategory.Names[index]} is configured more than once.");
            seen[index] = true;
            if (index == ContentCategory.PromptAttack && config.OutputStrength != FilterStrength.None)
            {
                throw new ArgumentException("PROMPT_ATTACK applies to input only: set its outputStrength to NONE.");
            }
            list.Add(new Filter(index, config));
        }
        _filters = [.. list];
        _model = model ?? (_filters.Length > 0 ? ContentModel.Embedded : null!);
    }

    /// <summary>Loads the shipped content model now (it otherwise loads when the first policy with filters is built).</summary>
    public static void Preload() => _ = ContentModel.Embedded;

    /// <summary>Assesses one text; returns a finding for each filter whose confidence reaches its strength (Detected is
    /// then true, Action BLOCKED or NONE as configured). Never throws on any string.</summary>
    public IReadOnlyList<ContentFilterFinding> Assess(string text, GuardrailSource source)
    {
        if (_filters.Length == 0 || string.IsNullOrEmpty(text)) return [];
        Span<float> probabilities = stackalloc float[ContentCategory.Count];
        ContentScorer.Score(_model, text, probabilities);
        List<ContentFilterFinding>? findings = null;
        foreach (var filter in _filters)
        {
            var input = source == GuardrailSource.Input;
            if (!(input ? filter.Config.InputEnabled : filter.Config.OutputEnabled)) continue;
            if (!input && filter.Category == ContentCategory.PromptAttack) continue;
            var strength = input ? filter.Config.InputStrength : filter.Config.OutputStrength;
            var confidence = _model.Confidence(probabilities[filter.Category]);
            if (!Blocks(strength, confidence)) continue;
            var action = input ? filter.Config.InputAction : filter.Config.OutputAction;
            findings ??= [];
            findings.Add(new ContentFilterFinding(ContentCategory.Names[filter.Category], confidence, strength,
                action == PolicyAction.Blocked ? PolicyAction.Blocked : PolicyAction.None, Detected: true));
        }
        return findings is null ? [] : findings;
    }

    /// <summary>Bedrock's strength semantics: a filter of a strength acts on detections of at least the mirrored confidence.</summary>
    internal static bool Blocks(FilterStrength strength, FilterStrength confidence) => strength switch
    {
        FilterStrength.High => confidence >= FilterStrength.Low,
        FilterStrength.Medium => confidence >= FilterStrength.Medium,
        FilterStrength.Low => confidence >= FilterStrength.High,
        _ => false,
    };

    private sealed record Filter(int Category, ContentFilterConfig Config);
}
