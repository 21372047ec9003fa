using Basalt.Guardrails.Train;

// Trains the guardrail models shipped as embedded resources of Basalt.Guardrails. Deterministic for a given seed.
//   content --data data/guardrails/content --out src/Basalt.Guardrails/Content/Models/content-model.bin.gz
//   bench [--iterations N]   (CPU time per Assess of 1 KB; build with -c Release)
//   topics  --brown DIR --wordnet DIR --data data/guardrails/topics --out src/Basalt.Guardrails/Topics/Models/word-vectors.bin.gz
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
string Option(string name) => options.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required");
var seed = options.TryGetValue("seed", out var s) ? int.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 20261123;
switch (args.Length > 0 ? args[0] : "")
{
    case "content":
        return ContentTrainer.Run(Option("data"), Option("out"), seed);
    case "topics":
        return TopicTrainer.Run(Option("brown"), Option("wordnet"), Option("data"), Option("out"), seed);
    case "topics-recalibrate":
        return TopicTrainer.Recalibrate(Option("brown"), Option("vectors"), Option("data"), Option("out"), seed);
    case "bench":
        return PolicyBench.Run(options.TryGetValue("iterations", out var n) ? int.Parse(n, System.Globalization.CultureInfo.InvariantCulture) : 5000);
    case "probe":
        // prints the shipped model's probability and confidence per category for each line of standard input
        return ContentTrainer.Probe();
    default:
        Console.Error.WriteLine("usage: Basalt.Guardrails.Train content|topics --option value ... (see docs/guardrails.md)");
        return 2;
}
