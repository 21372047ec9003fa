namespace Basalt.Guardrails;

// The contract between a guardrail's policies and the engine that runs them (GuardrailEngine).
// Each policy is built once from its configuration (the Bedrock control-plane config, mapped to the records in each
// policy's folder) and is then immutable and thread-safe: Assess may run concurrently from many requests.
// Enum values print as Bedrock's wire strings through GuardrailWire.

/// <summary>Whether text is a user's input to a model or a model's output (Bedrock's GuardrailContentSource).</summary>
public enum GuardrailSource
{
    /// <summary>Text going into a model.</summary>
    Input,
    /// <summary>Text a model produced.</summary>
    Output,
}

/// <summary>How strictly a content filter acts (Bedrock's GuardrailFilterStrength), and also a detection's confidence.</summary>
public enum FilterStrength
{
    /// <summary>Off, or no confidence.</summary>
    None,
    /// <summary>Low.</summary>
    Low,
    /// <summary>Medium.</summary>
    Medium,
    /// <summary>High.</summary>
    High,
}

/// <summary>What a policy did about one finding.</summary>
public enum PolicyAction
{
    /// <summary>Detected (or not) but let through: Bedrock's NONE, used when the configured action is NONE or the finding is below threshold.</summary>
    None,
    /// <summary>The whole input or output is replaced by the blocked message.</summary>
    Blocked,
    /// <summary>The match is replaced by a placeholder such as {EMAIL}; only sensitive-information findings anonymize.</summary>
    Anonymized,
}

/// <summary>One text to assess. <paramref name="Qualifiers"/> carries Bedrock's content qualifiers for grounding
/// ("grounding_source", "query", "guard_content"); policies other than grounding ignore it.</summary>
public sealed record GuardrailTextUnit(string Text, IReadOnlySet<string>? Qualifiers = null);

/// <summary>A span of a text that a policy matched: <paramref name="Start"/> and <paramref name="Length"/> in UTF-16 code units of the
/// original (not normalized) text, so that anonymization replaces exactly what was matched.</summary>
public readonly record struct TextSpan(int Start, int Length)
{
    /// <summary>One past the last code unit.</summary>
    public int End => Start + Length;
}
