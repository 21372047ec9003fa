using System.Text.Json;
using Basalt.Guardrails;

namespace Basalt.Server.Guardrails;

/// <summary>Writes Bedrock's GuardrailAssessment, GuardrailUsage and GuardrailCoverage from the engine's outcome.</summary>
internal static class GuardrailAssessmentJson
{
    /// <summary>One GuardrailAssessment object; <paramref name="applied"/> adds appliedGuardrailDetails.</summary>
    public static void WriteAssessment(Utf8JsonWriter w, GuardrailAssessment a, (string Id, string Version)? applied = null)
    {
        w.WriteStartObject();
        if (a.Topics.Count > 0)
        {
            w.WriteStartObject("topicPolicy");
            w.WriteStartArray("topics");
            foreach (var t in a.Topics)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteString("type", "DENY");
                w.WriteString("action", GuardrailWire.Action(t.Action));
                w.WriteBoolean("detected", t.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (a.ContentFilters.Count > 0)
        {
            w.WriteStartObject("contentPolicy");
            w.WriteStartArray("filters");
            foreach (var f in a.ContentFilters)
            {
                w.WriteStartObject();
                w.WriteString("type", f.Type);
                w.WriteString("confidence", GuardrailWire.Strength(f.Confidence));
                w.WriteString("filterStrength", GuardrailWire.Strength(f.FilterStrength));
                w.WriteString("action", GuardrailWire.Action(f.Action));
                w.WriteBoolean("detected", f.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (a.CustomWords.Count > 0 || a.ManagedWords.Count > 0)
        {
            w.WriteStartObject("wordPolicy");
            w.WriteStartArray("customWords");
            foreach (var f in a.CustomWords)
            {
                w.WriteStartObject();
                w.WriteString("match", f.Match);
                w.WriteString("action", GuardrailWire.Action(f.Action));
                w.WriteBoolean("detected", f.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("managedWordLists");
            foreach (var f in a.ManagedWords)
            {
                w.WriteStartObject();
                w.WriteString("match", f.Match);
                w.WriteString("type", f.ManagedType);
                w.WriteString("action", GuardrailWire.Action(f.Action));
                w.WriteBoolean("detected", f.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (a.PiiEntities.Count > 0 || a.Regexes.Count > 0)
        {
            w.WriteStartObject("sensitiveInformationPolicy");
            w.WriteStartArray("piiEntities");
            foreach (var f in a.PiiEntities)
            {
                w.WriteStartObject();
                w.WriteString("match", f.Match);
                w.WriteString("type", f.Type);
                w.WriteString("action", GuardrailWire.Action(f.Action));
                w.WriteBoolean("detected", f.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("regexes");
            foreach (var f in a.Regexes)
            {
                w.WriteStartObject();
                w.WriteString("name", f.Name);
                w.WriteString("match", f.Match);
                w.WriteString("regex", f.Regex);
                w.WriteString("action", GuardrailWire.Action(f.Action));
                w.WriteBoolean("detected", f.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (a.Grounding.Count > 0)
        {
            w.WriteStartObject("contextualGroundingPolicy");
            w.WriteStartArray("filters");
            foreach (var f in a.Grounding)
            {
                w.WriteStartObject();
                w.WriteString("type", f.Type);
                w.WriteNumber("threshold", f.Threshold);
                w.WriteNumber("score", Math.Round(f.Score, 4));
                w.WriteString("action", GuardrailWire.Action(f.Action));
                w.WriteBoolean("detected", f.Detected);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteStartObject("invocationMetrics");
        w.WriteNumber("guardrailProcessingLatency", a.LatencyMs);
        w.WritePropertyName("usage");
        WriteUsage(w, a.Usage);
        w.WritePropertyName("guardrailCoverage");
        WriteCoverage(w, a);
        w.WriteEndObject();
        if (applied is { } d)
        {
            w.WriteStartObject("appliedGuardrailDetails");
            w.WriteString("guardrailId", d.Id);
            w.WriteString("guardrailVersion", d.Version);
            w.WriteString("guardrailArn", GuardrailRegistry.Arn(d.Id));
            w.WriteStartArray("guardrailOrigin");
            w.WriteStringValue("REQUEST");
            w.WriteEndArray();
            w.WriteString("guardrailOwnership", "SELF");
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>GuardrailUsage.</summary>
    public static void WriteUsage(Utf8JsonWriter w, GuardrailUsage u)
    {
        w.WriteStartObject();
        w.WriteNumber("topicPolicyUnits", u.TopicPolicyUnits);
        w.WriteNumber("contentPolicyUnits", u.ContentPolicyUnits);
        w.WriteNumber("wordPolicyUnits", u.WordPolicyUnits);
        w.WriteNumber("sensitiveInformationPolicyUnits", u.SensitiveInformationPolicyUnits);
        w.WriteNumber("sensitiveInformationPolicyFreeUnits", u.SensitiveInformationPolicyFreeUnits);
        w.WriteNumber("contextualGroundingPolicyUnits", u.ContextualGroundingPolicyUnits);
        w.WriteEndObject();
    }

    /// <summary>GuardrailCoverage (text characters).</summary>
    public static void WriteCoverage(Utf8JsonWriter w, GuardrailAssessment a)
    {
        w.WriteStartObject();
        w.WriteStartObject("textCharacters");
        w.WriteNumber("guarded", a.GuardedCharacters);
        w.WriteNumber("total", a.TotalCharacters);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    /// <summary>The ApplyGuardrail response body.</summary>
    public static void WriteApplyResponse(Utf8JsonWriter w, GuardrailOutcome o, string id, string version)
    {
        w.WriteStartObject();
        w.WritePropertyName("usage");
        WriteUsage(w, o.Assessment.Usage);
        w.WriteString("action", o.Intervened ? "GUARDRAIL_INTERVENED" : "NONE");
        w.WriteString("actionReason", o.ActionReason);
        w.WriteStartArray("outputs");
        foreach (var text in o.Outputs)
        {
            w.WriteStartObject();
            w.WriteString("text", text);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("assessments");
        WriteAssessment(w, o.Assessment, (id, version));
        w.WriteEndArray();
        w.WritePropertyName("guardrailCoverage");
        WriteCoverage(w, o.Assessment);
        w.WriteEndObject();
    }
}
