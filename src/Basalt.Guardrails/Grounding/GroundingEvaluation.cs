using System.Text.Json;

namespace Basalt.Guardrails.Grounding;

/// <summary>Precision and recall of the contextual grounding check on a labelled set
/// (data/guardrails/grounding/labelled.jsonl). The positive class is what the filter should catch: an ungrounded
/// response for GROUNDING, an irrelevant one for RELEVANCE; a response is flagged when its score is below the threshold.</summary>
internal static class GroundingEvaluation
{
    public sealed record Row(string Split, string Kind, double Grounding, double Relevance, bool Grounded, bool Relevant);

    public sealed record Score(string Filter, double Threshold, int TruePositives, int FalsePositives, int FalseNegatives)
    {
        public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);
        public double Recall => TruePositives + FalseNegatives == 0 ? 1 : (double)TruePositives / (TruePositives + FalseNegatives);
    }

    public static IReadOnlyList<Row> ScoreAll(IEnumerable<string> jsonLines)
    {
        var rows = new List<Row>();
        foreach (string line in jsonLines)
        {
            if (string.IsNullOrWhiteSpace(line))
                continue;
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement r = doc.RootElement;
            GroundingScore s = GroundingScorer.Score(r.GetProperty("response").GetString()!, r.GetProperty("source").GetString()!, r.GetProperty("query").GetString());
            rows.Add(new Row(r.GetProperty("split").GetString()!, r.GetProperty("kind").GetString()!, s.Grounding, s.Relevance,
                r.GetProperty("grounded").GetBoolean(), r.GetProperty("relevant").GetBoolean()));
        }
        return rows;
    }

    public static Score Evaluate(IEnumerable<Row> rows, string filter, double threshold)
    {
        int tp = 0, fp = 0, fn = 0;
        foreach (Row row in rows)
        {
            bool flagged = (filter == GroundingPolicy.Grounding ? row.Grounding : row.Relevance) < threshold;
            bool positive = filter == GroundingPolicy.Grounding ? !row.Grounded : !row.Relevant;
            if (flagged && positive) tp++;
            else if (flagged) fp++;
            else if (positive) fn++;
        }
        return new Score(filter, threshold, tp, fp, fn);
    }
}
