namespace Basalt.Guardrails.Topics;

/// <summary>One denied topic of a guardrail (Bedrock's GuardrailTopicConfig; the type is always DENY).</summary>
/// <param name="Name">The topic's name, reported in findings.</param>
/// <param name="Definition">What the topic covers, in a sentence.</param>
/// <param name="Examples">Example phrases that belong to the topic.</param>
/// <param name="InputAction">BLOCKED to block a detection on input, NONE to only report it.</param>
/// <param name="OutputAction">BLOCKED to block a detection on output, NONE to only report it.</param>
/// <param name="InputEnabled">Whether the topic is evaluated on input.</param>
/// <param name="OutputEnabled">Whether the topic is evaluated on output.</param>
public sealed record TopicConfig(
    string Name,
    string Definition,
    IReadOnlyList<string> Examples,
    PolicyAction InputAction = PolicyAction.Blocked,
    PolicyAction OutputAction = PolicyAction.Blocked,
    bool InputEnabled = true,
    bool OutputEnabled = true);

/// <summary>A denied topic found in a text (Bedrock's GuardrailTopic; type DENY).</summary>
/// <param name="Name">The topic's name.</param>
/// <param name="Action">BLOCKED when the topic blocks, NONE when it only reports.</param>
/// <param name="Detected">True: the text is on the topic.</param>
public sealed record TopicFinding(string Name, PolicyAction Action, bool Detected);
