namespace Basalt.Guardrails.Grounding;

/// <summary>One contextual grounding filter (Bedrock's GuardrailContextualGroundingFilterConfig): a response scoring
/// below <paramref name="Threshold"/> on GROUNDING or RELEVANCE is detected.</summary>
public sealed record GroundingFilterConfig(string Type, double Threshold, PolicyAction Action = PolicyAction.Blocked, bool Enabled = true);

/// <summary>One contextual grounding result (Bedrock's GuardrailContextualGroundingFilter).</summary>
public sealed record GroundingFinding(string Type, double Threshold, double Score, PolicyAction Action, bool Detected);

/// <summary>Bedrock's contextual grounding check: GROUNDING (is each claim of the response supported by the grounding
/// source?) and RELEVANCE (does the response address the query?), each a score in [0, 1] compared with its threshold.
/// The scoring is <see cref="GroundingScorer"/>'s. Built once, immutable, thread-safe.</summary>
public sealed class GroundingPolicy
{
    /// <summary>The grounding filter type.</summary>
    public const string Grounding = "GROUNDING";

    /// <summary>The relevance filter type.</summary>
    public const string Relevance = "RELEVANCE";

    /// <summary>Longest grounding source scored; a longer one is scored on its first this many characters (Bedrock's
    /// own limit for the grounding source).</summary>
    public const int MaxSourceLength = 100_000;

    /// <summary>Longest response or query scored; longer ones are scored on their first this many characters (Bedrock
    /// limits the response to 5,000 characters and the query to 1,000).</summary>
    public const int MaxResponseLength = 10_000;

    private readonly GroundingFilterConfig[] _filters;

    /// <summary>Builds the policy; throws <see cref="ArgumentException"/> with a message for the user when the config is invalid.</summary>
    public GroundingPolicy(IReadOnlyList<GroundingFilterConfig> filters)
    {
        var list = new List<GroundingFilterConfig>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (GroundingFilterConfig filter in filters ?? [])
        {
            if (filter is null || filter.Type is not (Grounding or Relevance))
                throw new ArgumentException($"Unknown contextual grounding filter type '{filter?.Type}'; use {Grounding} or {Relevance}.");
            if (!(filter.Threshold >= 0 && filter.Threshold < 1))
                throw new ArgumentException($"The {filter.Type} threshold must be at least 0 and less than 1; got {filter.Threshold}.");
            if (filter.Action == PolicyAction.Anonymized)
                throw new ArgumentException($"A contextual grounding filter's action is BLOCK or NONE.");
            if (!seen.Add(filter.Type))
                throw new ArgumentException($"The contextual grounding filter {filter.Type} is configured twice.");
            list.Add(filter);
        }
        _filters = list.ToArray();
    }

    /// <summary>Scores <paramref name="response"/> against <paramref name="groundingSource"/> and
    /// <paramref name="query"/>. RELEVANCE is reported only when a query is given (as Bedrock). Never throws.</summary>
    public IReadOnlyList<GroundingFinding> Assess(string response, string groundingSource, string? query)
    {
        if (_filters.Length == 0)
            return [];
        response = Cap(response ?? string.Empty, MaxResponseLength);
        groundingSource = Cap(groundingSource ?? string.Empty, MaxSourceLength);
        query = query is null ? null : Cap(query, MaxResponseLength);

        GroundingScore? score = null;
        var findings = new List<GroundingFinding>(_filters.Length);
        foreach (GroundingFilterConfig filter in _filters)
        {
            if (!filter.Enabled || (filter.Type == Relevance && string.IsNullOrWhiteSpace(query)))
                continue;
            score ??= GroundingScorer.Score(response, groundingSource, query);
            double value = filter.Type == Grounding ? score.Value.Grounding : score.Value.Relevance;
            value = Math.Round(value, 2);
            bool detected = value < filter.Threshold;
            findings.Add(new GroundingFinding(filter.Type, filter.Threshold, value, detected ? filter.Action : PolicyAction.None, detected));
        }
        return findings;
    }

    private static string Cap(string text, int max) => text.Length > max ? text[..max] : text;
}
