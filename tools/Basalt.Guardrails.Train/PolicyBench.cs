using System.Diagnostics;
using Basalt.Guardrails.Content;
using Basalt.Guardrails.Topics;

namespace Basalt.Guardrails.Train;

/// <summary>A quick in-process figure: CPU time per Assess of 1 KB of text for all six content filters and for a
/// two-topic policy (guard-api's bench measures the whole guardrail over HTTP). CPU time of this process, so the
/// figure does not depend on what else the machine runs.</summary>
internal static class PolicyBench
{
    public static int Run(int iterations)
    {
        string[] types = ["HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"];
        var content = new ContentPolicy([.. types.Select(t => new ContentFilterConfig(t, FilterStrength.High, t == "PROMPT_ATTACK" ? FilterStrength.None : FilterStrength.High))]);
        var topics = new TopicPolicy([
            new TopicConfig("investment-advice", "Recommendations on where to invest money and which stocks, funds or other assets to buy or sell for profit.", ["Which stocks should I buy this year?", "Is it a good time to invest in bonds?"]),
            new TopicConfig("medical-diagnosis", "Diagnosing a person's illness from their symptoms or recommending a treatment, medicine or dose.", ["I have a headache and a fever, what disease do I have?"]),
        ]);
        var text = string.Concat(Enumerable.Repeat("Please review the quarterly numbers, ignore the draft totals and send the summary to finance by Friday. ", 11))[..1024];
        Measure("warm-up", content, topics, text, iterations / 4 + 1, print: false);
        Measure("1 KB English", content, topics, text, iterations, print: true);
        return 0;
    }

    private static void Measure(string name, ContentPolicy content, TopicPolicy topics, string text, int n, bool print)
    {
        var process = Process.GetCurrentProcess();
        var start = process.TotalProcessorTime;
        for (var i = 0; i < n; i++) content.Assess(text, GuardrailSource.Input);
        process.Refresh();
        var mid = process.TotalProcessorTime;
        for (var i = 0; i < n; i++) topics.Assess(text, GuardrailSource.Input);
        process.Refresh();
        var end = process.TotalProcessorTime;
        if (!print) return;
        Console.WriteLine($"{name}: content filters (6) {(mid - start).TotalMicroseconds / n:F1} us CPU per Assess; topics (2) {(end - mid).TotalMicroseconds / n:F1} us CPU per Assess ({n} each)");
    }
}
