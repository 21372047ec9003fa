using System.Diagnostics;
using Basalt.Guardrails;
using Basalt.Guardrails.Grounding;
using Basalt.Guardrails.Pii;
using Basalt.Guardrails.Words;

namespace Basalt.Bench;

/// <summary>The word, sensitive-information and grounding policies alone (no HTTP): Assess cost on 1 KB of text, and
/// precision/recall on the labelled sets in data/guardrails. One thread; CPU time per call is reported beside wall time
/// because the machine is shared.</summary>
internal static class GuardPoliciesBench
{
    // ~1 KB of support-ticket prose with a few PII values and one profanity, the shape ApplyGuardrail sees.
    private const string Text =
        "Hi team, this is Maria Lopez from the Denver office. I tried to update the billing details for account 4455120398 " +
        "but the portal keeps failing with a damn timeout after I enter the card 4111 1111 1111 1111, expiry 09/27. " +
        "You can reach me at maria.lopez@example.com or on (303) 555-0142 between 9 and 5. The invoice mentions our old " +
        "address, 1200 Larimer Street, Denver, CO 80204, which should now be 88 Blake Avenue. Could someone also check why " +
        "the server at 10.20.30.40 rejects logins from our VPN? My colleague said the dashboard at https://portal.example.com/billing " +
        "shows last month's usage twice. We are on the premium plan and were charged $49 twice in March. Please refund the " +
        "duplicate charge and confirm by email. Ticket priority is high because payroll runs on Friday and the finance team " +
        "needs the corrected invoice before then. Thanks for your help, and sorry for the long message; the previous three " +
        "tickets about this were closed without an answer, which was frustrating for everyone involved here. Best, Maria";

    public static int Run(string[] args)
    {
        int iterations = args.Length > 0 && int.TryParse(args[0], out int n) ? n : 5000;
        string root = FindRoot();

        var words = new WordPolicy(new WordPolicyConfig(
            Enumerable.Range(0, 20).Select(i => new WordConfig("blocked phrase " + i)).Append(new WordConfig("competitor")).ToList(),
            [new ManagedWordListConfig(WordPolicy.Profanity)]));
        var pii = new SensitiveInformationPolicy(
            PiiEntityTypes.All.Select(t => new PiiEntityConfig(t, PolicyAction.Anonymized)).ToList(),
            [new RegexConfig("TICKET", @"TCK-\d{6}", null, PolicyAction.Anonymized)]);
        Console.WriteLine($"text: {Text.Length} chars; words: {words.Assess(Text, GuardrailSource.Input).Count} findings; " +
                          $"pii: {pii.Assess(Text, GuardrailSource.Input).PiiEntities.Count} findings");

        Measure("words (PROFANITY + 21 custom)", iterations, () => words.Assess(Text, GuardrailSource.Input));
        Measure("pii (31 types + 1 regex)", iterations, () => pii.Assess(Text, GuardrailSource.Input));
        Measure("words + pii", iterations, () =>
        {
            words.Assess(Text, GuardrailSource.Input);
            pii.Assess(Text, GuardrailSource.Input);
        });

        foreach (string file in new[] { "data/guardrails/pii/heldout.jsonl", "data/guardrails/pii/test.jsonl" })
        {
            string path = Path.Combine(root, file);
            if (!File.Exists(path))
                continue;
            (IReadOnlyList<PiiEvaluation.TypeScore> scores, _) = PiiEvaluation.Run(File.ReadLines(path));
            Console.WriteLine($"\nPII precision/recall on {file} (all types enabled):");
            Console.WriteLine($"  {"type",-40} {"P",5} {"R",5}   tp  fp  fn");
            foreach (PiiEvaluation.TypeScore s in scores)
                Console.WriteLine($"  {s.Type,-40} {s.Precision,5:F2} {s.Recall,5:F2} {s.TruePositives,4} {s.FalsePositives,3} {s.FalseNegatives,3}");
        }

        IReadOnlyList<GroundingEvaluation.Row> rows = GroundingEvaluation.ScoreAll(File.ReadLines(Path.Combine(root, "data/guardrails/grounding/labelled.jsonl")));
        Console.WriteLine("\nContextual grounding on data/guardrails/grounding/labelled.jsonl (positive = should be flagged):");
        foreach (string split in new[] { "dev", "test" })
        {
            foreach (double threshold in new[] { 0.5, 0.7 })
            {
                foreach (string filter in new[] { GroundingPolicy.Grounding, GroundingPolicy.Relevance })
                {
                    GroundingEvaluation.Score s = GroundingEvaluation.Evaluate(rows.Where(r => r.Split == split), filter, threshold);
                    Console.WriteLine($"  {split,-4} {filter,-9} threshold {threshold:F1}: P={s.Precision:F2} R={s.Recall:F2} (tp {s.TruePositives}, fp {s.FalsePositives}, fn {s.FalseNegatives})");
                }
            }
        }
        return 0;
    }

    private static void Measure(string name, int iterations, Action action)
    {
        for (int i = 0; i < Math.Min(iterations, 2000); i++)
            action(); // warm up past tiered JIT
        var samples = new double[iterations];
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < iterations; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            action();
            samples[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        double wall = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds;
        Array.Sort(samples);
        Console.WriteLine($"{name,-32} p50 {samples[iterations / 2],7:F1} us  p99 {samples[(int)(iterations * 0.99)],7:F1} us  " +
                          $"mean wall {wall / iterations,7:F1} us  mean CPU {cpu / iterations,7:F1} us  ({iterations} calls)");
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Basalt.slnx")))
                return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
