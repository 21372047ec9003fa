namespace Basalt.Guardrails;

/// <summary>Bedrock's wire strings of the contract's enums.</summary>
public static class GuardrailWire
{
    /// <summary>NONE, LOW, MEDIUM or HIGH (GuardrailFilterStrength and GuardrailContentFilterConfidence).</summary>
    public static string Strength(FilterStrength s) => s switch
    {
        FilterStrength.Low => "LOW",
        FilterStrength.Medium => "MEDIUM",
        FilterStrength.High => "HIGH",
        _ => "NONE",
    };

    /// <summary>An assessment's action: BLOCKED, ANONYMIZED or NONE.</summary>
    public static string Action(PolicyAction a) => a switch
    {
        PolicyAction.Blocked => "BLOCKED",
        PolicyAction.Anonymized => "ANONYMIZED",
        _ => "NONE",
    };

    /// <summary>INPUT or OUTPUT (GuardrailContentSource).</summary>
    public static string Source(GuardrailSource s) => s == GuardrailSource.Output ? "OUTPUT" : "INPUT";
}
