namespace Basalt.Guardrails.Resources;

// The resource model of a guardrail: what CreateGuardrail / UpdateGuardrail configure and GetGuardrail returns, one
// record per Bedrock config shape, with every default filled in (an omitted inputAction is BLOCK, an omitted
// inputEnabled is true, a PII entity's inputAction is its action). The state store keeps it as JSON; the engine turns
// it into the policies of Content/, Topics/, Words/, Pii/ and Grounding/ (GuardrailPolicies).

/// <summary>The whole configuration of one guardrail version (Bedrock's CreateGuardrail request without its identity fields).</summary>
public sealed record GuardrailSpec
{
    /// <summary>Name, unique among guardrails (1 to 50 of [0-9a-zA-Z-_]).</summary>
    public required string Name { get; init; }
    /// <summary>Optional description (1 to 200 characters).</summary>
    public string? Description { get; init; }
    /// <summary>The text that replaces a blocked input.</summary>
    public required string BlockedInputMessaging { get; init; }
    /// <summary>The text that replaces a blocked output.</summary>
    public required string BlockedOutputsMessaging { get; init; }
    /// <summary>Content filters, or null.</summary>
    public ContentPolicySpec? ContentPolicy { get; init; }
    /// <summary>Denied topics, or null.</summary>
    public TopicPolicySpec? TopicPolicy { get; init; }
    /// <summary>Word filters, or null.</summary>
    public WordPolicySpec? WordPolicy { get; init; }
    /// <summary>PII entities and regexes, or null.</summary>
    public SensitiveInformationPolicySpec? SensitiveInformationPolicy { get; init; }
    /// <summary>Contextual grounding filters, or null.</summary>
    public GroundingPolicySpec? ContextualGroundingPolicy { get; init; }
}

/// <summary>Bedrock's GuardrailContentPolicyConfig.</summary>
public sealed record ContentPolicySpec(IReadOnlyList<ContentFilterSpec> Filters, string? TierName = null);

/// <summary>Bedrock's GuardrailContentFilterConfig.</summary>
public sealed record ContentFilterSpec(string Type, FilterStrength InputStrength, FilterStrength OutputStrength,
    PolicyAction InputAction, PolicyAction OutputAction, bool InputEnabled, bool OutputEnabled);

/// <summary>Bedrock's GuardrailTopicPolicyConfig.</summary>
public sealed record TopicPolicySpec(IReadOnlyList<TopicSpec> Topics, string? TierName = null);

/// <summary>Bedrock's GuardrailTopicConfig (type DENY).</summary>
public sealed record TopicSpec(string Name, string Definition, IReadOnlyList<string> Examples,
    PolicyAction InputAction, PolicyAction OutputAction, bool InputEnabled, bool OutputEnabled);

/// <summary>Bedrock's GuardrailWordPolicyConfig.</summary>
public sealed record WordPolicySpec(IReadOnlyList<WordSpec> Words, IReadOnlyList<ManagedWordListSpec> ManagedWordLists);

/// <summary>Bedrock's GuardrailWordConfig.</summary>
public sealed record WordSpec(string Text, PolicyAction InputAction, PolicyAction OutputAction, bool InputEnabled, bool OutputEnabled);

/// <summary>Bedrock's GuardrailManagedWordsConfig (type PROFANITY).</summary>
public sealed record ManagedWordListSpec(string Type, PolicyAction InputAction, PolicyAction OutputAction, bool InputEnabled, bool OutputEnabled);

/// <summary>Bedrock's GuardrailSensitiveInformationPolicyConfig.</summary>
public sealed record SensitiveInformationPolicySpec(IReadOnlyList<PiiEntitySpec> PiiEntities, IReadOnlyList<RegexSpec> Regexes);

/// <summary>Bedrock's GuardrailPiiEntityConfig.</summary>
public sealed record PiiEntitySpec(string Type, PolicyAction Action, PolicyAction InputAction, PolicyAction OutputAction, bool InputEnabled, bool OutputEnabled);

/// <summary>Bedrock's GuardrailRegexConfig.</summary>
public sealed record RegexSpec(string Name, string? Description, string Pattern, PolicyAction Action,
    PolicyAction InputAction, PolicyAction OutputAction, bool InputEnabled, bool OutputEnabled);

/// <summary>Bedrock's GuardrailContextualGroundingPolicyConfig.</summary>
public sealed record GroundingPolicySpec(IReadOnlyList<GroundingFilterSpec> Filters);

/// <summary>Bedrock's GuardrailContextualGroundingFilterConfig.</summary>
public sealed record GroundingFilterSpec(string Type, double Threshold, PolicyAction Action, bool Enabled);

/// <summary>One stored version of a guardrail: the DRAFT (<see cref="Version"/> 0) or an immutable numbered version.</summary>
public sealed record GuardrailVersionRecord
{
    /// <summary>The guardrail's id (12 lowercase letters and digits).</summary>
    public required string Id { get; init; }
    /// <summary>0 for the DRAFT, else 1, 2, ...</summary>
    public required int Version { get; init; }
    /// <summary>The configuration.</summary>
    public required GuardrailSpec Spec { get; init; }
    /// <summary>The version's own description (CreateGuardrailVersion's), else the guardrail's.</summary>
    public string? Description => Spec.Description;
    /// <summary>When the guardrail (not this version) was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>When this version last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>"DRAFT" or the version number.</summary>
    public string VersionName => GuardrailVersions.Format(Version);
}

/// <summary>Guardrail version names: "DRAFT" is 0, numbered versions are "1" to "99999999".</summary>
public static class GuardrailVersions
{
    /// <summary>The working version that UpdateGuardrail changes.</summary>
    public const string Draft = "DRAFT";

    /// <summary>The wire name of a version number.</summary>
    public static string Format(int version) => version == 0 ? Draft : version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Parses "DRAFT" or a number without leading zero of at most 8 digits.</summary>
    public static bool TryParse(string? text, out int version)
    {
        version = 0;
        if (text == Draft)
            return true;
        if (text is null || text.Length is 0 or > 8 || text[0] == '0')
            return false;
        foreach (var c in text)
            if (!char.IsAsciiDigit(c))
                return false;
        version = int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        return true;
    }
}
