using Basalt.Guardrails.Pii;
using Xunit.Abstractions;

namespace Basalt.Guardrails.Tests.Pii;

public sealed class PiiHeldOutTests(ITestOutputHelper output)
{
    private (IReadOnlyList<PiiEvaluation.TypeScore> Scores, IReadOnlyList<string> Errors) Run(string file)
    {
        (IReadOnlyList<PiiEvaluation.TypeScore> scores, IReadOnlyList<string> errors) = PiiEvaluation.Run(File.ReadLines(RepoFiles.Path(file)));
        foreach (PiiEvaluation.TypeScore s in scores)
            output.WriteLine($"{s.Type,-40} P={s.Precision:F2} R={s.Recall:F2} (tp {s.TruePositives}, fp {s.FalsePositives}, fn {s.FalseNegatives})");
        foreach (string e in errors)
            output.WriteLine(e);
        return (scores, errors);
    }

    [Fact]
    public void Run_DevelopmentSet_EveryTypeAboveFloor()
    {
        (IReadOnlyList<PiiEvaluation.TypeScore> scores, _) = Run("data/guardrails/pii/heldout.jsonl");

        Assert.Equal(25, scores.Count);
        Assert.All(scores, s => Assert.True(s.Precision >= 0.8 && s.Recall >= 0.8, $"{s.Type}: P={s.Precision:F2} R={s.Recall:F2}"));
    }

    [Fact]
    public void Run_TestSet_OverallPrecisionAndRecallAboveFloor()
    {
        (IReadOnlyList<PiiEvaluation.TypeScore> scores, _) = Run("data/guardrails/pii/test.jsonl");

        int tp = scores.Sum(s => s.TruePositives), fp = scores.Sum(s => s.FalsePositives), fn = scores.Sum(s => s.FalseNegatives);
        Assert.True((double)tp / (tp + fp) >= 0.9, $"precision {tp}/{tp + fp}");
        Assert.True((double)tp / (tp + fn) >= 0.85, $"recall {tp}/{tp + fn}");
    }
}
