namespace Basalt.Guardrails.Content;

/// <summary>One content filter of a guardrail (Bedrock's GuardrailContentFilterConfig): a category and how strictly it
/// acts on input and on output.</summary>
/// <param name="Type">HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT or PROMPT_ATTACK.</param>
/// <param name="InputStrength">Strength on text going into the model.</param>
/// <param name="OutputStrength">Strength on model output; must be NONE for PROMPT_ATTACK, as on Bedrock.</param>
/// <param name="InputAction">BLOCKED to block a detection on input, NONE to only report it.</param>
/// <param name="OutputAction">BLOCKED to block a detection on output, NONE to only report it.</param>
/// <param name="InputEnabled">Whether the filter evaluates input at all.</param>
/// <param name="OutputEnabled">Whether the filter evaluates output at all.</param>
public sealed record ContentFilterConfig(
    string Type,
    FilterStrength InputStrength,
    FilterStrength OutputStrength,
    PolicyAction InputAction = PolicyAction.Blocked,
    PolicyAction OutputAction = PolicyAction.Blocked,
    bool InputEnabled = true,
    bool OutputEnabled = true);

/// <summary>One content filter's verdict on a text (Bedrock's GuardrailContentFilter).</summary>
/// <param name="Type">The category.</param>
/// <param name="Confidence">How confident the model is that the text belongs to the category.</param>
/// <param name="FilterStrength">The strength the filter was configured with for this source.</param>
/// <param name="Action">BLOCKED when the filter blocks, NONE when it only reports.</param>
/// <param name="Detected">True: the confidence reaches the strength's threshold.</param>
public sealed record ContentFilterFinding(string Type, FilterStrength Confidence, FilterStrength FilterStrength, PolicyAction Action, bool Detected);
