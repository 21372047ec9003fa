using Basalt.Guardrails.Content;
using Basalt.Guardrails.Grounding;
using Basalt.Guardrails.Pii;
using Basalt.Guardrails.Words;
using Basalt.Guardrails.Topics;

namespace Basalt.Guardrails;

/// <summary>Text units processed per policy (Bedrock's GuardrailUsage): 1 unit per started 1,000 characters of each text
/// a policy assessed.</summary>
public sealed record GuardrailUsage(int TopicPolicyUnits, int ContentPolicyUnits, int WordPolicyUnits,
    int SensitiveInformationPolicyUnits, int SensitiveInformationPolicyFreeUnits, int ContextualGroundingPolicyUnits)
{
    /// <summary>No units.</summary>
    public static readonly GuardrailUsage Zero = new(0, 0, 0, 0, 0, 0);

    /// <summary>The sum of two usages.</summary>
    public GuardrailUsage Add(GuardrailUsage o) => new(TopicPolicyUnits + o.TopicPolicyUnits, ContentPolicyUnits + o.ContentPolicyUnits,
        WordPolicyUnits + o.WordPolicyUnits, SensitiveInformationPolicyUnits + o.SensitiveInformationPolicyUnits,
        SensitiveInformationPolicyFreeUnits + o.SensitiveInformationPolicyFreeUnits, ContextualGroundingPolicyUnits + o.ContextualGroundingPolicyUnits);
}

/// <summary>What every policy found in one application of a guardrail (Bedrock's GuardrailAssessment), with its
/// invocation metrics.</summary>
public sealed record GuardrailAssessment
{
    /// <summary>Denied topics found.</summary>
    public IReadOnlyList<TopicFinding> Topics { get; init; } = [];
    /// <summary>Content filters that detected their category.</summary>
    public IReadOnlyList<ContentFilterFinding> ContentFilters { get; init; } = [];
    /// <summary>Custom words and phrases found.</summary>
    public IReadOnlyList<WordFinding> CustomWords { get; init; } = [];
    /// <summary>Managed-list (PROFANITY) words found.</summary>
    public IReadOnlyList<WordFinding> ManagedWords { get; init; } = [];
    /// <summary>PII entities found.</summary>
    public IReadOnlyList<PiiFinding> PiiEntities { get; init; } = [];
    /// <summary>Custom regex matches.</summary>
    public IReadOnlyList<RegexFinding> Regexes { get; init; } = [];
    /// <summary>Contextual grounding scores.</summary>
    public IReadOnlyList<GroundingFinding> Grounding { get; init; } = [];
    /// <summary>Milliseconds the guardrail took.</summary>
    public long LatencyMs { get; init; }
    /// <summary>Text units processed.</summary>
    public GuardrailUsage Usage { get; init; } = GuardrailUsage.Zero;
    /// <summary>Characters the guardrail assessed.</summary>
    public int GuardedCharacters { get; init; }
    /// <summary>Characters of all the text given (including grounding sources and queries).</summary>
    public int TotalCharacters { get; init; }

    /// <summary>True when no policy has a finding.</summary>
    public bool IsEmpty => Topics.Count == 0 && ContentFilters.Count == 0 && CustomWords.Count == 0 && ManagedWords.Count == 0
        && PiiEntities.Count == 0 && Regexes.Count == 0 && Grounding.Count == 0;
}

/// <summary>The result of applying a guardrail to some text (Bedrock's ApplyGuardrail response, before JSON).</summary>
/// <param name="Intervened">True when a policy blocked or anonymized (action GUARDRAIL_INTERVENED).</param>
/// <param name="Blocked">True when a policy blocked: <paramref name="Outputs"/> is then the blocked messaging.</param>
/// <param name="ActionReason">Why the guardrail acted, in words (Bedrock's actionReason).</param>
/// <param name="Outputs">The text to use instead of the input: the blocked messaging, or (anonymized) one text per
/// assessed unit, in order, with its matches replaced by {TYPE}; empty when the guardrail did not intervene.</param>
/// <param name="Assessment">The findings (all of them, or only those that acted, as the output scope asked).</param>
public sealed record GuardrailOutcome(bool Intervened, bool Blocked, string ActionReason, IReadOnlyList<string> Outputs, GuardrailAssessment Assessment);
