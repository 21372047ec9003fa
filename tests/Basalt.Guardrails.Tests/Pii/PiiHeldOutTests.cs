using Basalt.Guardrails.Pii;
using Xunit.Abstractions;

namespace Basalt.Guardrails.Tests.Pii;

public sealed class PiiHeldOutTests(ITestOutputHelper output)
{
    [Fact]
    public void Run_HeldOutSet_EveryTypeAboveFloor()
    {
        (IReadOnlyList<PiiEvaluation.TypeScore> scores, IReadOnlyList<string> errors) =
            PiiEvaluation.Run(File.ReadLines(RepoFiles.Path("data/guardrails/pii/heldout.jsonl")));

        foreach (PiiEvaluation.TypeScore s in scores)
            output.WriteLine($"{s.Type,-40} P={s.Precision:F2} R={s.Recall:F2} (tp {s.TruePositives}, fp {s.FalsePositives}, fn {s.FalseNegatives})");
        foreach (string e in errors)
            output.WriteLine(e);
        Assert.All(scores, s => Assert.True(s.Precision >= 0.8 && s.Recall >= 0.8, $"{s.Type}: P={s.Precision:F2} R={s.Recall:F2}"));
    }
}
