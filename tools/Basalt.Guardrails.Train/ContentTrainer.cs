using System.Globalization;
using Basalt.Guardrails;
using Basalt.Guardrails.Content;

namespace Basalt.Guardrails.Train;

/// <summary>Builds the labelled content set from data/guardrails/content (templates filled from slots and the cuss
/// lexicon, the Brown benign sample, the hand-written held-out file), trains one logistic regression per category over
/// the hashed features, reports precision and recall on the held-out splits and writes the model.</summary>
internal static class ContentTrainer
{
    private const int FillsPerTemplate = 30;
    private const int SlotlessCopies = 4;
    private const double AffixShare = 0.25;
    private const int JunkExamples = 500;
    private const int Epochs = 14;
    /// <summary>Positives are few against the benign sentences; weighting them trades a little precision for recall.</summary>
    private const float PositiveWeight = 2.5f;
    private const float LearningRate = 0.3f;
    private const float L2 = 1e-6f;
    private static readonly float[] Thresholds = [0.5f, 0.7f, 0.88f];

    internal sealed record Example(string Text, float[] Targets, string Source);

    public static int Run(string dataDir, string outPath, int seed)
    {
        var random = new Random(seed);
        var slots = ReadSlots(Path.Combine(dataDir, "slots.tsv"));
        AddLexiconSlots(dataDir, slots);
        var generated = new List<Example>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (labels, template) in ReadPairs(Path.Combine(dataDir, "templates.tsv")))
        {
            var targets = ParseLabels(labels);
            if (!template.Contains('{'))
            {
                // a fixed sentence weighs as much as a few filled templates
                for (var copy = 0; copy < SlotlessCopies; copy++) generated.Add(new Example(template, targets, "template"));
                continue;
            }
            var made = 0;
            for (var attempt = 0; attempt < FillsPerTemplate * 3 && made < FillsPerTemplate; attempt++)
            {
                var text = Fill(template, slots, random);
                // filler around the core teaches the model that it does not change the meaning
                if (random.NextDouble() < AffixShare) text = Fill("{PREFIX} ", slots, random) + text;
                if (random.NextDouble() < AffixShare) text += Fill(" {SUFFIX}", slots, random);
                if (!seen.Add(text)) continue;
                generated.Add(new Example(text, targets, "template"));
                made++;
            }
        }
        foreach (var (labels, text) in ReadPairs(Path.Combine(dataDir, "curated.tsv")))
        {
            for (var copy = 0; copy < SlotlessCopies; copy++) generated.Add(new Example(text, ParseLabels(labels), "template"));
        }
        foreach (var line in File.ReadLines(Path.Combine(dataDir, "brown-benign.tsv")))
        {
            if (line.StartsWith('#') || line.Length == 0) continue;
            if (seen.Add(line)) generated.Add(new Example(line, new float[ContentCategory.Count], "brown"));
        }
        AddJunk(generated, random);
        var train = new List<Example>();
        var heldGenerated = new List<Example>();
        foreach (var e in generated)
        {
            (StableHash(e.Text) % 5 == 0 ? heldGenerated : train).Add(e);
        }
        var heldCurated = new List<Example>();
        foreach (var (labels, text) in ReadPairs(Path.Combine(dataDir, "heldout.tsv"))) heldCurated.Add(new Example(text, ParseLabels(labels), "curated"));
        Console.WriteLine($"examples: {train.Count} train, {heldGenerated.Count} held-out generated, {heldCurated.Count} held-out hand-written");

        var model = Train(train, random);
        Report("held-out generated (20% of templates + Brown, by text hash)", model, heldGenerated);
        Report("held-out hand-written (heldout.tsv)", model, heldCurated);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        using (var file = File.Create(outPath)) model.Write(file);
        using (var check = File.OpenRead(outPath))
        {
            var reloaded = ContentModel.Read(check);
            Report("held-out hand-written, reloaded half-precision model", reloaded, heldCurated);
        }
        Console.WriteLine($"wrote {outPath} ({new FileInfo(outPath).Length} bytes)");
        return 0;
    }

    private static ContentModel Train(List<Example> train, Random random)
    {
        const int C = ContentCategory.Count;
        var features = new int[train.Count][];
        for (var i = 0; i < train.Count; i++)
        {
            var normalized = ObfuscationNormalizer.Normalize(train[i].Text);
            var buffer = new int[ContentFeatures.MaxFeatures(normalized) + 4];
            var n = ContentFeatures.Extract(normalized, buffer);
            features[i] = buffer[..n];
        }
        var weights = new float[ContentFeatures.Buckets * C];
        var gradSq = new float[ContentFeatures.Buckets * C];
        var bias = new float[C];
        var biasSq = new float[C];
        var order = new int[train.Count];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        Span<float> z = stackalloc float[C];
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            random.Shuffle(order);
            var loss = 0.0;
            foreach (var i in order)
            {
                var f = features[i];
                var scale = ContentModel.FeatureScale(f.Length);
                bias.CopyTo(z);
                foreach (var b in f)
                {
                    for (var c = 0; c < C; c++) z[c] += weights[b * C + c] * scale;
                }
                for (var c = 0; c < C; c++)
                {
                    var p = 1f / (1f + MathF.Exp(-z[c]));
                    var t = train[i].Targets[c];
                    loss -= t * Math.Log(p + 1e-7) + (1 - t) * Math.Log(1 - p + 1e-7);
                    var g = (p - t) * (t > 0 ? PositiveWeight : 1f);
                    biasSq[c] += g * g;
                    bias[c] -= LearningRate * g / (MathF.Sqrt(biasSq[c]) + 1e-6f);
                    if (g == 0) continue;
                    foreach (var b in f)
                    {
                        var k = b * C + c;
                        var gw = g * scale + L2 * weights[k];
                        gradSq[k] += gw * gw;
                        weights[k] -= LearningRate * gw / (MathF.Sqrt(gradSq[k]) + 1e-6f);
                    }
                }
            }
            Console.WriteLine($"epoch {epoch + 1}: mean loss {loss / train.Count:F4}");
        }
        return new ContentModel(weights, bias, Thresholds);
    }

    /// <summary>Prints precision and recall per category at two operating points: detected at LOW confidence or more
    /// (what a HIGH-strength filter blocks) and at MEDIUM or more (a MEDIUM-strength filter).</summary>
    internal static void Report(string title, ContentModel model, List<Example> set)
    {
        Console.WriteLine($"\n{title}: {set.Count} examples");
        Console.WriteLine("| category | positives | P (>=LOW) | R (>=LOW) | P (>=MEDIUM) | R (>=MEDIUM) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var predictions = new FilterStrength[set.Count][];
        Span<float> p = stackalloc float[ContentCategory.Count];
        for (var i = 0; i < set.Count; i++)
        {
            ContentScorer.Score(model, set[i].Text, p);
            predictions[i] = new FilterStrength[ContentCategory.Count];
            for (var c = 0; c < ContentCategory.Count; c++) predictions[i][c] = model.Confidence(p[c]);
        }
        for (var c = 0; c < ContentCategory.Count; c++)
        {
            var positives = 0;
            var cells = new List<string>();
            foreach (var level in new[] { FilterStrength.Low, FilterStrength.Medium })
            {
                int tp = 0, fp = 0, fn = 0;
                positives = 0;
                for (var i = 0; i < set.Count; i++)
                {
                    var actual = set[i].Targets[c] > 0;
                    var predicted = predictions[i][c] >= level;
                    if (actual) positives++;
                    if (actual && predicted) tp++;
                    else if (!actual && predicted) fp++;
                    else if (actual) fn++;
                }
                cells.Add(tp + fp == 0 ? "n/a" : ((double)tp / (tp + fp)).ToString("F3", CultureInfo.InvariantCulture));
                cells.Add(tp + fn == 0 ? "n/a" : ((double)tp / (tp + fn)).ToString("F3", CultureInfo.InvariantCulture));
            }
            Console.WriteLine($"| {ContentCategory.Names[c]} | {positives} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |");
        }
        for (var i = 0; i < set.Count; i++)
        {
            for (var c = 0; c < ContentCategory.Count; c++)
            {
                var actual = set[i].Targets[c] > 0;
                var predicted = predictions[i][c] >= FilterStrength.Low;
                if (actual != predicted && set[i].Source == "curated")
                {
                    Console.WriteLine($"  {(actual ? "missed" : "false ")} {ContentCategory.Names[c]} {predictions[i][c]}: {set[i].Text}");
                }
            }
        }
    }

    /// <summary>Benign noise: random identifiers and hashes, and salads of benign words, so that unknown or merely
    /// unusual tokens push no category up (without them the biases learn to flag anything unfamiliar).</summary>
    private static void AddJunk(List<Example> generated, Random random)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var brownWords = new List<string>();
        foreach (var e in generated)
        {
            if (e.Source != "brown") continue;
            foreach (var w in e.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries)) brownWords.Add(w);
        }
        for (var i = 0; i < JunkExamples; i++)
        {
            var parts = new List<string>();
            var tokens = 1 + random.Next(4);
            for (var t = 0; t < tokens; t++)
            {
                var length = 4 + random.Next(40);
                var chars = new char[length];
                for (var k = 0; k < length; k++) chars[k] = alphabet[random.Next(alphabet.Length)];
                parts.Add(new string(chars));
            }
            generated.Add(new Example(string.Join(' ', parts), new float[ContentCategory.Count], "junk"));
            var salad = new List<string>();
            var words = 1 + random.Next(12);
            for (var t = 0; t < words; t++) salad.Add(brownWords[random.Next(brownWords.Count)]);
            generated.Add(new Example(string.Join(' ', salad), new float[ContentCategory.Count], "junk"));
        }
    }

    public static int Probe()
    {
        var model = ContentModel.Embedded;
        Span<float> p = stackalloc float[ContentCategory.Count];
        while (Console.ReadLine() is { } line)
        {
            ContentScorer.Score(model, line, p);
            var cells = new List<string>();
            for (var c = 0; c < ContentCategory.Count; c++)
            {
                if (p[c] >= 0.2f) cells.Add($"{ContentCategory.Names[c]}={p[c]:F2}/{model.Confidence(p[c])}");
            }
            Console.WriteLine($"{string.Join(' ', cells),-60} | {line}");
        }
        return 0;
    }

    private static string Fill(string template, Dictionary<string, List<string>> slots, Random random)
    {
        var result = new System.Text.StringBuilder(template.Length * 2);
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf('{', i);
            if (open < 0)
            {
                result.Append(template, i, template.Length - i);
                break;
            }
            var close = template.IndexOf('}', open);
            result.Append(template, i, open - i);
            var name = template[(open + 1)..close];
            if (!slots.TryGetValue(name, out var values) || values.Count == 0) throw new InvalidDataException($"slot {{{name}}} has no values");
            result.Append(values[random.Next(values.Count)]);
            i = close + 1;
        }
        return result.ToString();
    }

    private static float[] ParseLabels(string labels)
    {
        var targets = new float[ContentCategory.Count];
        if (labels == "BENIGN") return targets;
        foreach (var part in labels.Split(','))
        {
            var pieces = part.Split(':');
            var index = ContentCategory.IndexOf(pieces[0]);
            if (index < 0) throw new InvalidDataException($"unknown label {pieces[0]}");
            targets[index] = pieces[1] == "2" ? 1f : 0.75f;
        }
        return targets;
    }

    private static Dictionary<string, List<string>> ReadSlots(string path)
    {
        var slots = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (slot, value) in ReadPairs(path))
        {
            if (!slots.TryGetValue(slot, out var list)) slots[slot] = list = [];
            list.Add(value);
        }
        return slots;
    }

    private static void AddLexiconSlots(string dataDir, Dictionary<string, List<string>> slots)
    {
        var rules = ReadPairs(Path.Combine(dataDir, "lexicon-rules.tsv")).ToList();
        foreach (var name in new[] { "PROFANE", "SLUR", "SEXWORD", "CUSS0" }) slots[name] = [];
        foreach (var (word, rating) in ReadPairs(Path.Combine(dataDir, "cuss.tsv")))
        {
            if (rating == "0")
            {
                if (word.All(char.IsAsciiLetterLower)) slots["CUSS0"].Add(word);
                continue;
            }
            if (rating != "2") continue;
            var slot = "PROFANE";
            foreach (var (ruleSlot, stem) in rules)
            {
                if (word.Contains(stem, StringComparison.Ordinal))
                {
                    slot = ruleSlot;
                    break;
                }
            }
            slots[slot].Add(word);
        }
    }

    internal static IEnumerable<(string, string)> ReadPairs(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var tab = line.IndexOf('\t');
            if (tab < 0) throw new InvalidDataException($"{path}: no tab in '{line}'");
            yield return (line[..tab], line[(tab + 1)..]);
        }
    }

    internal static uint StableHash(string s)
    {
        var h = 2166136261u;
        foreach (var c in s) h = (h ^ c) * 16777619u;
        return h;
    }
}
