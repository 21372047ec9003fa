namespace Basalt.Guardrails.Pii;

/// <summary>One PII entity type to filter (Bedrock's GuardrailPiiEntityConfig). <paramref name="InputAction"/> and
/// <paramref name="OutputAction"/> default to <paramref name="Action"/>.</summary>
public sealed record PiiEntityConfig(
    string Type,
    PolicyAction Action,
    PolicyAction? InputAction = null,
    PolicyAction? OutputAction = null,
    bool InputEnabled = true,
    bool OutputEnabled = true);

/// <summary>One custom regular expression to filter (Bedrock's GuardrailRegexConfig); anonymized matches become {Name}.</summary>
public sealed record RegexConfig(
    string Name,
    string Pattern,
    string? Description,
    PolicyAction Action,
    PolicyAction? InputAction = null,
    PolicyAction? OutputAction = null,
    bool InputEnabled = true,
    bool OutputEnabled = true);

/// <summary>One PII entity found (Bedrock's GuardrailPiiEntityFilter), with its span in the original text.</summary>
public sealed record PiiFinding(string Type, string Match, TextSpan Span, PolicyAction Action, bool Detected);

/// <summary>One custom regex match (Bedrock's GuardrailRegexFilter), with its span in the original text.</summary>
public sealed record RegexFinding(string Name, string Regex, string Match, TextSpan Span, PolicyAction Action, bool Detected);

/// <summary>What the sensitive information policy found; <paramref name="AnonymizedText"/> is the text with every
/// anonymized match replaced by {TYPE} or {regex name}, or null when nothing was anonymized.</summary>
public sealed record SensitiveInformationResult(
    IReadOnlyList<PiiFinding> PiiEntities,
    IReadOnlyList<RegexFinding> Regexes,
    string? AnonymizedText)
{
    /// <summary>Nothing found.</summary>
    public static SensitiveInformationResult Empty { get; } = new([], [], null);
}
