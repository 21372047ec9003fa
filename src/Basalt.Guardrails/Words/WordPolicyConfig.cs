namespace Basalt.Guardrails.Words;

/// <summary>One custom word or phrase to filter (Bedrock's GuardrailWordConfig).</summary>
public sealed record WordConfig(
    string Text,
    PolicyAction InputAction = PolicyAction.Blocked,
    PolicyAction OutputAction = PolicyAction.Blocked,
    bool InputEnabled = true,
    bool OutputEnabled = true);

/// <summary>One managed word list to filter with (Bedrock's GuardrailManagedWordsConfig); the only type is PROFANITY.</summary>
public sealed record ManagedWordListConfig(
    string Type,
    PolicyAction InputAction = PolicyAction.Blocked,
    PolicyAction OutputAction = PolicyAction.Blocked,
    bool InputEnabled = true,
    bool OutputEnabled = true);

/// <summary>The word policy of a guardrail (Bedrock's GuardrailWordPolicyConfig).</summary>
public sealed record WordPolicyConfig(IReadOnlyList<WordConfig> Words, IReadOnlyList<ManagedWordListConfig> ManagedLists);

/// <summary>One word filter match (Bedrock's GuardrailCustomWord when <paramref name="ManagedType"/> is null, else
/// GuardrailManagedWord): <paramref name="Match"/> and <paramref name="Span"/> are the matched text as it appears in the
/// original, obfuscation included.</summary>
public sealed record WordFinding(string Match, string? ManagedType, TextSpan Span, PolicyAction Action, bool Detected);
