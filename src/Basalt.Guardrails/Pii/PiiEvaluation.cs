using System.Text.Json;

namespace Basalt.Guardrails.Pii;

/// <summary>Precision and recall of the PII detectors on a labelled set (data/guardrails/pii/heldout.jsonl): every type
/// enabled with ANONYMIZE; a detection is a true positive when an expected entity of the same type overlaps it.</summary>
internal static class PiiEvaluation
{
    public sealed record TypeScore(string Type, int TruePositives, int FalsePositives, int FalseNegatives)
    {
        public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);
        public double Recall => TruePositives + FalseNegatives == 0 ? 1 : (double)TruePositives / (TruePositives + FalseNegatives);
    }

    /// <summary>Scores per type, and the lines the policy got wrong (for reading, not for asserting).</summary>
    public static (IReadOnlyList<TypeScore> Scores, IReadOnlyList<string> Errors) Run(IEnumerable<string> jsonLines)
    {
        var policy = new SensitiveInformationPolicy(
            PiiEntityTypes.All.Select(t => new PiiEntityConfig(t, PolicyAction.Anonymized)).ToList(), []);
        var tp = new Dictionary<string, int>();
        var fp = new Dictionary<string, int>();
        var fn = new Dictionary<string, int>();
        var errors = new List<string>();
        foreach (string line in jsonLines)
        {
            if (string.IsNullOrWhiteSpace(line))
                continue;
            using JsonDocument doc = JsonDocument.Parse(line);
            string text = doc.RootElement.GetProperty("text").GetString()!;
            var expected = new List<(string Type, TextSpan Span, bool Found)>();
            foreach (JsonElement e in doc.RootElement.GetProperty("entities").EnumerateArray())
            {
                string match = e.GetProperty("match").GetString()!;
                expected.Add((e.GetProperty("type").GetString()!, new TextSpan(text.IndexOf(match, StringComparison.Ordinal), match.Length), false));
            }
            SensitiveInformationResult result = policy.Assess(text, GuardrailSource.Input);
            foreach (PiiFinding f in result.PiiEntities)
            {
                int hit = expected.FindIndex(x => x.Type == f.Type && x.Span.Start < f.Span.End && f.Span.Start < x.Span.End);
                if (hit >= 0)
                {
                    Bump(tp, f.Type);
                    expected[hit] = expected[hit] with { Found = true };
                }
                else
                {
                    Bump(fp, f.Type);
                    errors.Add($"FP {f.Type} '{f.Match}' in: {text}");
                }
            }
            foreach ((string type, TextSpan span, bool found) in expected)
            {
                if (!found)
                {
                    Bump(fn, type);
                    errors.Add($"FN {type} '{text.Substring(span.Start, span.Length)}' in: {text}");
                }
            }
        }
        var types = tp.Keys.Concat(fp.Keys).Concat(fn.Keys).Distinct().Order(StringComparer.Ordinal);
        return (types.Select(t => new TypeScore(t, tp.GetValueOrDefault(t), fp.GetValueOrDefault(t), fn.GetValueOrDefault(t))).ToList(), errors);
    }

    private static void Bump(Dictionary<string, int> counts, string type) => counts[type] = counts.GetValueOrDefault(type) + 1;
}
