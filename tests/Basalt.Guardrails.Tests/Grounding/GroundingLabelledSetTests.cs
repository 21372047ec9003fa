using Basalt.Guardrails.Grounding;
using Xunit.Abstractions;

namespace Basalt.Guardrails.Tests.Grounding;

public sealed class GroundingLabelledSetTests(ITestOutputHelper output)
{
    [Fact]
    public void Evaluate_LabelledSetAtDefaultThreshold_CatchesMostUngroundedAndIrrelevantAnswers()
    {
        IReadOnlyList<GroundingEvaluation.Row> rows = GroundingEvaluation.ScoreAll(File.ReadLines(RepoFiles.Path("data/guardrails/grounding/labelled.jsonl")));
        foreach (GroundingEvaluation.Row r in rows)
            output.WriteLine($"{r.Split,-4} {r.Kind,-12} G={r.Grounding:F2} R={r.Relevance:F2}");

        foreach (string split in new[] { "dev", "test" })
        {
            foreach (string filter in new[] { GroundingPolicy.Grounding, GroundingPolicy.Relevance })
            {
                GroundingEvaluation.Score s = GroundingEvaluation.Evaluate(rows.Where(r => r.Split == split), filter, 0.5);
                output.WriteLine($"{split} {filter} @0.5: P={s.Precision:F2} R={s.Recall:F2} (tp {s.TruePositives}, fp {s.FalsePositives}, fn {s.FalseNegatives})");
            }
        }
        GroundingEvaluation.Score g = GroundingEvaluation.Evaluate(rows, GroundingPolicy.Grounding, 0.5);
        GroundingEvaluation.Score rel = GroundingEvaluation.Evaluate(rows, GroundingPolicy.Relevance, 0.5);
        Assert.True(g.Precision >= 0.75 && g.Recall >= 0.6, $"GROUNDING P={g.Precision:F2} R={g.Recall:F2}");
        Assert.True(rel.Precision >= 0.6 && rel.Recall >= 0.6, $"RELEVANCE P={rel.Precision:F2} R={rel.Recall:F2}");
    }
}
