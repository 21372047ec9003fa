using System.Diagnostics;
using System.Globalization;
using Basalt.Guardrails.Content;
using Basalt.Guardrails.Topics;

namespace Basalt.Guardrails.Train;

/// <summary>Trains the denied-topic word vectors: co-occurrence counts over the Brown corpus (windows of words) and
/// WordNet (each synset's lemmas with its gloss and the lemmas of related synsets: hypernyms, derivations, similar
/// adjectives), positive PMI with context smoothing, truncated SVD by randomized subspace iteration, then SIF weights,
/// the common sentence direction, the char n-gram backoff table and the similarity threshold calibrated on half of
/// data/guardrails/topics/paraphrases.tsv (the other half reports precision and recall).</summary>
internal static class TopicTrainer
{
    private const int MaxVocab = 25_000;
    private const int MinCount = 3;
    private const int Dim = 100;
    private const int Oversample = 12;
    private const int PowerIterations = 3;
    private const int BrownWindow = 4;
    private const double ContextSmoothing = 0.75;
    private const int BackgroundSentences = 300;

    public static int Run(string brownDir, string wordnetDir, string dataDir, string outPath, int seed)
    {
        var clock = Stopwatch.StartNew();
        var brown = ReadBrown(brownDir);
        var synsets = ReadWordNet(wordnetDir);
        Console.WriteLine($"brown: {brown.Count} sentences; wordnet: {synsets.Count} synsets ({clock.Elapsed.TotalSeconds:F0} s)");

        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in brown) foreach (var w in s) counts[w] = counts.GetValueOrDefault(w) + 1;
        foreach (var s in synsets) foreach (var w in s.Lemmas.Concat(s.Gloss)) counts[w] = counts.GetValueOrDefault(w) + 1;
        var words = counts.Where(kv => kv.Value >= MinCount && kv.Key.Length > 1 && !kv.Key.All(char.IsDigit))
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(MaxVocab).Select(kv => kv.Key).ToArray();
        var index = new Dictionary<string, int>(words.Length, StringComparer.Ordinal);
        for (var i = 0; i < words.Length; i++) index[words[i]] = i;
        Console.WriteLine($"vocabulary: {words.Length} words");

        var cooc = new Dictionary<long, float>(16_000_000);
        void Add(int a, int b, float w)
        {
            if (a == b) return;
            var k1 = (long)a * words.Length + b;
            var k2 = (long)b * words.Length + a;
            cooc[k1] = cooc.GetValueOrDefault(k1) + w;
            cooc[k2] = cooc.GetValueOrDefault(k2) + w;
        }
        var ids = new List<int>();
        foreach (var sentence in brown)
        {
            Ids(sentence, index, ids);
            for (var i = 0; i < ids.Count; i++)
            {
                for (var d = 1; d <= BrownWindow && i + d < ids.Count; d++) Add(ids[i], ids[i + d], 1f / d);
            }
        }
        var lemmaIds = new List<int>();
        var related = new List<int>();
        foreach (var s in synsets)
        {
            Ids(s.Lemmas, index, lemmaIds);
            Ids(s.Gloss, index, ids);
            related.Clear();
            foreach (var r in s.Related)
            {
                if (!synsetsByKey.TryGetValue(r, out var other)) continue;
                foreach (var w in other.Lemmas)
                {
                    if (index.TryGetValue(w, out var id)) related.Add(id);
                }
            }
            foreach (var l in lemmaIds)
            {
                foreach (var o in lemmaIds) if (l < o) Add(l, o, 2f);
                foreach (var g in ids) Add(l, g, 1f);
                foreach (var r in related) Add(l, r, 1f);
            }
            for (var i = 0; i < ids.Count; i++)
            {
                for (var d = 1; d <= BrownWindow && i + d < ids.Count; d++) Add(ids[i], ids[i + d], 0.5f / d);
            }
        }
        Console.WriteLine($"co-occurrences: {cooc.Count} non-zero ({clock.Elapsed.TotalSeconds:F0} s)");

        var matrix = Ppmi(cooc, words.Length);
        cooc.Clear();
        cooc.TrimExcess();
        Console.WriteLine($"ppmi: {matrix.Values.Length} positive ({clock.Elapsed.TotalSeconds:F0} s)");
        var vectors = Svd(matrix, words.Length, Dim, new Random(seed));
        Console.WriteLine($"svd done ({clock.Elapsed.TotalSeconds:F0} s)");

        var total = 0.0;
        foreach (var w in words) total += counts[w];
        var weights = new float[words.Length];
        for (var i = 0; i < words.Length; i++) weights[i] = SentenceEncoder.SifA / (SentenceEncoder.SifA + (float)(counts[words[i]] / total));
        var grams = GramTable(words, vectors);
        return Finish(words, vectors, weights, grams, brown, dataDir, outPath, seed);
    }

    /// <summary>Recomputes what follows the word vectors (common direction, background, threshold) from an existing
    /// vectors file: for changes to sentence scoring that do not need a new SVD.</summary>
    public static int Recalibrate(string brownDir, string vectorsPath, string dataDir, string outPath, int seed)
    {
        SentenceEncoder old;
        using (var file = File.OpenRead(vectorsPath)) old = SentenceEncoder.Read(file);
        return Finish(old.Words(), old.Vectors, old.Weights, old.GramTable, ReadBrown(brownDir), dataDir, outPath, seed);
    }

    private static int Finish(string[] words, float[] vectors, float[] weights, float[] grams, List<List<string>> brown, string dataDir, string outPath, int seed)
    {
        var dim = vectors.Length / words.Length;
        var encoder = new SentenceEncoder(words, vectors, weights, grams, new float[dim], [], dim, threshold: 0f);
        var common = CommonDirection(encoder, brown, new Random(seed));
        encoder = new SentenceEncoder(words, vectors, weights, grams, common, [], dim, threshold: 0f);
        var background = new List<float[]>();
        for (var i = 3; i < brown.Count && background.Count < BackgroundSentences; i += brown.Count / BackgroundSentences)
        {
            if (brown[i].Count < 5) continue;
            var v = encoder.Encode(string.Join(' ', brown[i]));
            if (v is not null) background.Add(v);
        }
        encoder = new SentenceEncoder(words, vectors, weights, grams, common, [.. background], dim, threshold: 0f);

        var threshold = Calibrate(encoder, Path.Combine(dataDir, "paraphrases.tsv"), Path.Combine(dataDir, "topics.tsv"));
        encoder = encoder.WithThreshold(threshold);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        using (var file = File.Create(outPath)) encoder.Write(file);
        using (var check = File.OpenRead(outPath))
        {
            Console.WriteLine("\nreloaded int8 vectors:");
            Evaluate(SentenceEncoder.Read(check), Path.Combine(dataDir, "paraphrases.tsv"), Path.Combine(dataDir, "topics.tsv"), report: true);
        }
        Console.WriteLine($"wrote {outPath} ({new FileInfo(outPath).Length} bytes)");
        return 0;
    }

    private static Dictionary<string, Synset> synsetsByKey = new(StringComparer.Ordinal);

    private sealed record Synset(string Key, List<string> Lemmas, List<string> Gloss, List<string> Related);

    private static void Ids(List<string> tokens, Dictionary<string, int> index, List<int> ids)
    {
        ids.Clear();
        foreach (var t in tokens)
        {
            if (index.TryGetValue(t, out var id)) ids.Add(id);
        }
    }

    private static List<List<string>> ReadBrown(string dir)
    {
        var sentences = new List<List<string>>();
        foreach (var file in Directory.GetFiles(dir).Where(f => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(f), "^c[a-r][0-9][0-9]$")).Order(StringComparer.Ordinal))
        {
            foreach (var line in File.ReadLines(file))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                var plain = string.Join(' ', line.Split(' ', '\t').Where(t => t.Length > 0).Select(t => t.LastIndexOf('/') is var slash and > 0 ? t[..slash] : t));
                var tokens = Tokens(plain);
                if (tokens.Count > 1) sentences.Add(tokens);
            }
        }
        return sentences;
    }

    private static List<string> Tokens(string text) => [.. ObfuscationNormalizer.Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries)];

    private static List<Synset> ReadWordNet(string dir)
    {
        var list = new List<Synset>();
        foreach (var (file, pos) in new[] { ("data.noun", 'n'), ("data.verb", 'v'), ("data.adj", 'a'), ("data.adv", 'r') })
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, file)))
            {
                if (line.StartsWith("  ", StringComparison.Ordinal)) continue; // licence header
                var bar = line.IndexOf(" | ", StringComparison.Ordinal);
                var fields = (bar < 0 ? line : line[..bar]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var gloss = bar < 0 ? "" : line[(bar + 3)..];
                var wordCount = int.Parse(fields[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                var lemmas = new List<string>();
                for (var i = 0; i < wordCount; i++)
                {
                    var lemma = fields[4 + 2 * i];
                    var paren = lemma.IndexOf('(');
                    if (paren > 0) lemma = lemma[..paren];
                    lemmas.AddRange(Tokens(lemma.Replace('_', ' ')));
                }
                var at = 4 + 2 * wordCount;
                var pointers = int.Parse(fields[at], CultureInfo.InvariantCulture);
                var related = new List<string>();
                for (var p = 0; p < pointers; p++)
                {
                    var symbol = fields[at + 1 + 4 * p];
                    var offset = fields[at + 2 + 4 * p];
                    var targetPos = fields[at + 3 + 4 * p][0] == 's' ? 'a' : fields[at + 3 + 4 * p][0];
                    if (symbol is "@" or "@i" or "+" or "&" or "\\" or "=" or "^" or "$") related.Add(targetPos + offset);
                }
                var synset = new Synset(pos + fields[0], lemmas, Tokens(gloss), related);
                list.Add(synset);
                synsetsByKey[synset.Key] = synset;
            }
        }
        return list;
    }

    internal sealed record Sparse(int[] RowStart, int[] Columns, float[] Values);

    private static Sparse Ppmi(Dictionary<long, float> cooc, int n)
    {
        var rowSum = new double[n];
        var colSum = new double[n];
        var total = 0.0;
        foreach (var (key, v) in cooc)
        {
            rowSum[key / n] += v;
            colSum[key % n] += v;
            total += v;
        }
        var smoothed = new double[n];
        var smoothedTotal = 0.0;
        for (var j = 0; j < n; j++)
        {
            smoothed[j] = Math.Pow(colSum[j], ContextSmoothing);
            smoothedTotal += smoothed[j];
        }
        var entries = new List<(long Key, float Value)>(cooc.Count / 2);
        foreach (var (key, v) in cooc)
        {
            var i = key / n;
            var j = key % n;
            var pmi = Math.Log(v / total / (rowSum[i] / total * (smoothed[j] / smoothedTotal)));
            if (pmi > 0) entries.Add((key, (float)pmi));
        }
        entries.Sort((a, b) => a.Key.CompareTo(b.Key));
        var rowStart = new int[n + 1];
        var columns = new int[entries.Count];
        var values = new float[entries.Count];
        for (var e = 0; e < entries.Count; e++)
        {
            rowStart[entries[e].Key / n + 1]++;
            columns[e] = (int)(entries[e].Key % n);
            values[e] = entries[e].Value;
        }
        for (var i = 0; i < n; i++) rowStart[i + 1] += rowStart[i];
        return new Sparse(rowStart, columns, values);
    }

    /// <summary>Y = A X for a sparse A (n x n) and a dense X (n x k, row-major).</summary>
    private static float[] Multiply(Sparse a, float[] x, int n, int k, bool transpose)
    {
        var y = new float[n * k];
        if (!transpose)
        {
            Parallel.For(0, n, i =>
            {
                var yi = y.AsSpan(i * k, k);
                for (var e = a.RowStart[i]; e < a.RowStart[i + 1]; e++)
                {
                    var v = a.Values[e];
                    var xj = x.AsSpan(a.Columns[e] * k, k);
                    for (var c = 0; c < k; c++) yi[c] += v * xj[c];
                }
            });
            return y;
        }
        for (var i = 0; i < n; i++)
        {
            var xi = x.AsSpan(i * k, k);
            for (var e = a.RowStart[i]; e < a.RowStart[i + 1]; e++)
            {
                var v = a.Values[e];
                var yj = y.AsSpan(a.Columns[e] * k, k);
                for (var c = 0; c < k; c++) yj[c] += v * xi[c];
            }
        }
        return y;
    }

    /// <summary>Orthonormalizes the k columns of X (n x k, row-major) in place by modified Gram-Schmidt.</summary>
    private static void Orthonormalize(float[] x, int n, int k)
    {
        for (var c = 0; c < k; c++)
        {
            for (var p = 0; p < c; p++)
            {
                var dot = 0.0;
                for (var i = 0; i < n; i++) dot += x[i * k + c] * x[i * k + p];
                for (var i = 0; i < n; i++) x[i * k + c] -= (float)dot * x[i * k + p];
            }
            var norm = 0.0;
            for (var i = 0; i < n; i++) norm += x[i * k + c] * x[i * k + c];
            var inv = norm > 1e-20 ? (float)(1 / Math.Sqrt(norm)) : 0f;
            for (var i = 0; i < n; i++) x[i * k + c] *= inv;
        }
    }

    /// <summary>The top-<paramref name="dim"/> left singular vectors scaled by sqrt of the singular values, rows unit length.</summary>
    private static float[] Svd(Sparse a, int n, int dim, Random random)
    {
        var k = dim + Oversample;
        var q = new float[n * k];
        for (var i = 0; i < q.Length; i++) q[i] = (float)(random.NextDouble() * 2 - 1);
        q = Multiply(a, q, n, k, transpose: false);
        Orthonormalize(q, n, k);
        for (var it = 0; it < PowerIterations; it++)
        {
            var z = Multiply(a, q, n, k, transpose: true);
            Orthonormalize(z, n, k);
            q = Multiply(a, z, n, k, transpose: false);
            Orthonormalize(q, n, k);
        }
        // B^T = A^T Q (n x k); B B^T = Q^T A A^T Q (k x k)
        var bt = Multiply(a, q, n, k, transpose: true);
        var gram = new double[k, k];
        for (var i = 0; i < n; i++)
        {
            for (var r = 0; r < k; r++)
            {
                var v = bt[i * k + r];
                if (v == 0) continue;
                for (var c = r; c < k; c++) gram[r, c] += v * bt[i * k + c];
            }
        }
        for (var r = 0; r < k; r++) for (var c = 0; c < r; c++) gram[r, c] = gram[c, r];
        var (eigenvalues, eigenvectors) = Jacobi(gram, k);
        var order = Enumerable.Range(0, k).OrderByDescending(i => eigenvalues[i]).Take(dim).ToArray();
        var vectors = new float[n * dim];
        for (var i = 0; i < n; i++)
        {
            for (var d = 0; d < dim; d++)
            {
                var col = order[d];
                var sum = 0.0;
                for (var r = 0; r < k; r++) sum += q[i * k + r] * eigenvectors[r, col];
                // singular value sigma = sqrt(eigenvalue); weight sqrt(sigma)
                vectors[i * dim + d] = (float)(sum * Math.Pow(Math.Max(eigenvalues[col], 0), 0.25));
            }
            SentenceEncoder.Normalize(vectors.AsSpan(i * dim, dim));
        }
        return vectors;
    }

    /// <summary>Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations.</summary>
    private static (double[] Values, double[,] Vectors) Jacobi(double[,] m, int k)
    {
        var a = (double[,])m.Clone();
        var v = new double[k, k];
        for (var i = 0; i < k; i++) v[i, i] = 1;
        for (var sweep = 0; sweep < 60; sweep++)
        {
            var off = 0.0;
            for (var p = 0; p < k; p++) for (var r = p + 1; r < k; r++) off += a[p, r] * a[p, r];
            if (off < 1e-18) break;
            for (var p = 0; p < k; p++)
            {
                for (var r = p + 1; r < k; r++)
                {
                    if (Math.Abs(a[p, r]) < 1e-30) continue;
                    var theta = (a[r, r] - a[p, p]) / (2 * a[p, r]);
                    var t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var i = 0; i < k; i++)
                    {
                        var aip = a[i, p];
                        var air = a[i, r];
                        a[i, p] = c * aip - s * air;
                        a[i, r] = s * aip + c * air;
                    }
                    for (var i = 0; i < k; i++)
                    {
                        var api = a[p, i];
                        var ari = a[r, i];
                        a[p, i] = c * api - s * ari;
                        a[r, i] = s * api + c * ari;
                    }
                    for (var i = 0; i < k; i++)
                    {
                        var vip = v[i, p];
                        var vir = v[i, r];
                        v[i, p] = c * vip - s * vir;
                        v[i, r] = s * vip + c * vir;
                    }
                }
            }
        }
        var values = new double[k];
        for (var i = 0; i < k; i++) values[i] = a[i, i];
        return (values, v);
    }

    /// <summary>Each char n-gram bucket's vector: the mean of the vectors of the words that contain it.</summary>
    private static float[] GramTable(string[] words, float[] vectors)
    {
        var grams = new float[SentenceEncoder.GramBuckets * Dim];
        for (var i = 0; i < words.Length; i++)
        {
            foreach (var b in SentenceEncoder.Grams(words[i]))
            {
                var row = grams.AsSpan(b * Dim, Dim);
                var v = vectors.AsSpan(i * Dim, Dim);
                for (var d = 0; d < Dim; d++) row[d] += v[d];
            }
        }
        for (var b = 0; b < SentenceEncoder.GramBuckets; b++) SentenceEncoder.Normalize(grams.AsSpan(b * Dim, Dim));
        return grams;
    }

    /// <summary>The first principal direction of sentence vectors over a Brown sample (SIF removes it: it is what every
    /// sentence shares, mostly function words and syntax).</summary>
    private static float[] CommonDirection(SentenceEncoder encoder, List<List<string>> brown, Random random)
    {
        var sample = new List<float[]>();
        for (var i = 0; i < brown.Count && sample.Count < 4000; i += 7)
        {
            var v = encoder.Encode(string.Join(' ', brown[i]));
            if (v is not null) sample.Add(v);
        }
        var u = new float[Dim];
        for (var d = 0; d < Dim; d++) u[d] = (float)random.NextDouble();
        for (var it = 0; it < 50; it++)
        {
            var next = new float[Dim];
            foreach (var v in sample)
            {
                var dot = 0f;
                for (var d = 0; d < Dim; d++) dot += v[d] * u[d];
                for (var d = 0; d < Dim; d++) next[d] += dot * v[d];
            }
            SentenceEncoder.Normalize(next);
            u = next;
        }
        return u;
    }

    internal sealed record Labelled(string Topic, string Text, bool OnTopic, bool Calibration);

    private static List<TopicConfig> ReadTopics(string path)
    {
        var topics = new List<TopicConfig>();
        foreach (var (name, rest) in ContentTrainer.ReadPairs(path))
        {
            var parts = rest.Split('\t');
            topics.Add(new TopicConfig(name, parts[0], parts[1..]));
        }
        return topics;
    }

    private static List<Labelled> ReadParaphrases(string path)
    {
        var list = new List<Labelled>();
        var i = 0;
        foreach (var (label, rest) in ContentTrainer.ReadPairs(path))
        {
            var tab = rest.IndexOf('\t');
            list.Add(new Labelled(rest[..tab], rest[(tab + 1)..], label == "ON", Calibration: i++ % 2 == 0));
        }
        return list;
    }

    private static float Calibrate(SentenceEncoder encoder, string paraphrases, string topicsPath)
    {
        var scored = Score(encoder, paraphrases, topicsPath).Where(s => s.Item.Calibration).ToList();
        var best = (F1: -1.0, Threshold: 0.5f);
        for (var t = 0f; t < 12f; t += 0.05f)
        {
            var (p, r) = PrecisionRecall(scored, t);
            var f1 = p + r == 0 ? 0 : 2 * p * r / (p + r);
            if (f1 > best.F1 + 1e-9) best = (f1, t);
        }
        Console.WriteLine($"\nthreshold {best.Threshold:F2} (best F1 {best.F1:F3} on the calibration half)");
        Evaluate(encoder.WithThreshold(best.Threshold), paraphrases, topicsPath, report: true);
        return best.Threshold;
    }

    private static void Evaluate(SentenceEncoder encoder, string paraphrases, string topicsPath, bool report)
    {
        var scored = Score(encoder, paraphrases, topicsPath);
        foreach (var half in new[] { true, false })
        {
            var part = scored.Where(s => s.Item.Calibration == half).ToList();
            var (p, r) = PrecisionRecall(part, encoder.Threshold);
            Console.WriteLine($"{(half ? "calibration" : "held-out")} half: {part.Count(s => s.Item.OnTopic)} on-topic, {part.Count(s => !s.Item.OnTopic)} off-topic: precision {p:F3}, recall {r:F3}");
            if (!report || half) continue;
            foreach (var s in part)
            {
                if ((s.Score >= encoder.Threshold) != s.Item.OnTopic) Console.WriteLine($"  {(s.Item.OnTopic ? "missed" : "false ")} {s.Score:F2} [{s.Item.Topic}] {s.Item.Text}");
            }
        }
    }

    private static List<(Labelled Item, float Score)> Score(SentenceEncoder encoder, string paraphrases, string topicsPath)
    {
        var topics = ReadTopics(topicsPath);
        var policy = new TopicPolicy(topics, encoder);
        var result = new List<(Labelled, float)>();
        foreach (var item in ReadParaphrases(paraphrases))
        {
            var topicIndex = topics.FindIndex(t => t.Name == item.Topic);
            if (topicIndex < 0) throw new InvalidDataException($"unknown topic {item.Topic}");
            result.Add((item, policy.Score(item.Text, topicIndex)));
        }
        return result;
    }

    private static (double Precision, double Recall) PrecisionRecall(List<(Labelled Item, float Score)> scored, float threshold)
    {
        int tp = 0, fp = 0, fn = 0;
        foreach (var (item, score) in scored)
        {
            var predicted = score >= threshold;
            if (predicted && item.OnTopic) tp++;
            else if (predicted) fp++;
            else if (item.OnTopic) fn++;
        }
        return (tp + fp == 0 ? 0 : (double)tp / (tp + fp), tp + fn == 0 ? 0 : (double)tp / (tp + fn));
    }
}
