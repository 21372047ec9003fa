using System.Globalization;
using System.Text;

namespace Basalt.Guardrails.Grounding;

/// <summary>GROUNDING and RELEVANCE scores of a response.</summary>
internal readonly record struct GroundingScore(double Grounding, double Relevance, int Claims);

/// <summary>Per-claim support scoring.
/// The response is split into claims (sentences, then clauses at ";" and ", but"). A claim's support is its best match
/// against one source sentence or two adjacent ones: the share of its content words (stopwords dropped, stemmed) found
/// there, weighted by length so that "Paris" counts more than "is"; then penalties that bag-of-words overlap misses:
/// a number of the claim absent from the source (×0.2; present elsewhere in the source ×0.6), a negation mismatch
/// (×0.35), a capitalized name absent from the source (×0.5).
/// GROUNDING = 0.5·min + 0.5·(length-weighted mean) of claim support: a response is only as grounded as its least
/// supported claim (one invented fact in a correct answer must be able to fall below a threshold), but the mean keeps a
/// long, well-supported answer from being sunk by one short marginal clause.
/// RELEVANCE = the share of the query's content words the response addresses, where a claim addresses the words it
/// contains and, when it is supported (≥ 0.5), those of its supporting source sentence ("Paris." answers "What is the
/// capital of France?" through "The capital of France is Paris."). Query words are weighted by inverse sentence
/// frequency in the source; bridged words count half; the best claim's coverage is taken relative to the best source sentence's, to the power 1.5.</summary>
internal static class GroundingScorer
{
    private const double MissingNumberPenalty = 0.2;
    private const double MisplacedNumberPenalty = 0.6;
    private const double NegationPenalty = 0.35;
    private const double MissingNamePenalty = 0.5;
    private const double SupportedForRelevance = 0.5;
    private const double MinSourceCoverage = 0.3;
    private const double BridgeWeight = 0.5;

    public static GroundingScore Score(string response, string source, string? query)
    {
        List<Unit> claims = Split(response, clauses: true);
        List<Unit> sentences = Split(source, clauses: false);
        var index = new SourceIndex(sentences);
        var sourceNumbers = new HashSet<string>(StringComparer.Ordinal);
        var sourceWords = new HashSet<string>(StringComparer.Ordinal);
        var sourceNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (Unit s in sentences)
        {
            sourceNumbers.UnionWith(s.Numbers);
            sourceWords.UnionWith(s.Stems);
            sourceNames.UnionWith(s.RawLower);
        }

        Unit? queryUnit = string.IsNullOrWhiteSpace(query) ? null : Analyze(query!);
        var queryWeights = new Dictionary<string, double>(StringComparer.Ordinal);
        if (queryUnit is not null)
        {
            // A query word found in few source sentences says more about what is asked than one found everywhere
            // ("premium" vs "plan" in a pricing page): inverse sentence frequency over the source.
            foreach (string q in queryUnit.Stems.Concat(queryUnit.Numbers))
            {
                if (QueryFiller.Contains(q))
                    continue;
                int df = 0;
                foreach (Unit s in sentences)
                {
                    if (s.Stems.Contains(q) || s.Numbers.Contains(q))
                        df++;
                }
                // A word the source never uses weighs as a rare one, not more: no grounded answer can echo it.
                queryWeights[q] = Math.Log(1 + (sentences.Count + 1.0) / (Math.Max(df, 1) + 0.5));
            }
        }
        double queryTotal = queryWeights.Values.Sum();

        // How well the source's best sentence covers the query: the most a grounded answer can cover through it.
        double bestSourceCoverage = 0;
        foreach (Unit s in sentences)
            bestSourceCoverage = Math.Max(bestSourceCoverage, Coverage(queryWeights, queryTotal, s.Stems, s.Numbers, null));

        double weightSum = 0, weighted = 0, min = 1;
        double bestRelevance = 0;
        int counted = 0;
        foreach (Unit claim in claims)
        {
            if (claim.Stems.Count == 0 && claim.Numbers.Count == 0)
                continue; // "Sure!", "Yes." carry no claim
            counted++;
            (double support, HashSet<string>? supportStems, double lexical) = Support(claim, index, sourceNumbers, sourceNames);
            double weight = claim.Stems.Count + claim.Numbers.Count;
            weighted += support * weight;
            weightSum += weight;
            min = Math.Min(min, support);
            if (queryTotal > 0)
            {
                HashSet<string>? bridge = lexical >= SupportedForRelevance ? supportStems : null;
                bestRelevance = Math.Max(bestRelevance, Coverage(queryWeights, queryTotal, claim.Stems, claim.Numbers, bridge));
            }
        }

        double grounding = counted == 0 ? 1 : 0.5 * min + 0.5 * (weighted / weightSum);
        if (sentences.Count == 0)
            grounding = 0;
        double relevance;
        if (queryUnit is null)
            relevance = 1;
        else if (queryTotal == 0)
            relevance = counted > 0 ? 1 : 0;
        else
        {
            // Relative to what the source allows, to the power 1.5: covering half of what the best source sentence covers is
            // answering something else (an off-topic fact from the same page), not half an answer.
            double relative = Math.Min(1, bestRelevance / Math.Max(bestSourceCoverage, MinSourceCoverage));
            relevance = relative * Math.Sqrt(relative);
        }
        return new GroundingScore(Math.Clamp(grounding, 0, 1), Math.Clamp(relevance, 0, 1), counted);
    }

    private static double Coverage(Dictionary<string, double> queryWeights, double total, HashSet<string> stems, HashSet<string> numbers, HashSet<string>? bridge)
    {
        double covered = 0;
        foreach ((string q, double w) in queryWeights)
        {
            if (stems.Contains(q) || numbers.Contains(q))
                covered += w;
            else if (bridge is not null && bridge.Contains(q))
                covered += BridgeWeight * w;
        }
        return total == 0 ? 0 : covered / total;
    }

    // Sentences compared with each claim: those sharing the most content words (an inverted index keeps long sources
    // from costing claims × sentences).
    private const int CandidateSentences = 12;

    private static (double Support, HashSet<string>? Stems, double Lexical) Support(Unit claim, SourceIndex source, HashSet<string> sourceNumbers, HashSet<string> sourceNames)
    {
        List<Unit> sentences = source.Sentences;
        double best = 0, lexical = 0;
        HashSet<string>? bestStems = null, lexicalStems = null;
        double ignored = 0;
        HashSet<string>? ignoredStems = null;
        foreach (int i in source.Candidates(claim, CandidateSentences))
        {
            Score(claim, sentences[i], null, sourceNumbers, sourceNames, ref best, ref bestStems, ref lexical, ref lexicalStems);
            if (i + 1 < sentences.Count)
                Score(claim, sentences[i], sentences[i + 1], sourceNumbers, sourceNames, ref best, ref bestStems, ref ignored, ref ignoredStems);
            if (i > 0)
                Score(claim, sentences[i - 1], sentences[i], sourceNumbers, sourceNames, ref best, ref bestStems, ref ignored, ref ignoredStems);
        }
        // Relevance bridges through the sentence the claim is about (word overlap alone), even when a changed number
        // or negation makes the claim unsupported: a wrong answer to the question is still an answer to it.
        return (best, lexicalStems ?? bestStems, lexical);
    }

    private sealed class SourceIndex
    {
        private readonly Dictionary<string, List<int>> _postings = new(StringComparer.Ordinal);

        public SourceIndex(List<Unit> sentences)
        {
            Sentences = sentences;
            for (int i = 0; i < sentences.Count; i++)
            {
                foreach (string t in sentences[i].Stems.Concat(sentences[i].Numbers))
                {
                    if (!_postings.TryGetValue(t, out List<int>? list))
                        _postings[t] = list = [];
                    list.Add(i);
                }
            }
        }

        public List<Unit> Sentences { get; }

        public IEnumerable<int> Candidates(Unit claim, int count)
        {
            var shared = new Dictionary<int, int>();
            foreach (string t in claim.Stems.Concat(claim.Numbers))
            {
                if (_postings.TryGetValue(t, out List<int>? list))
                {
                    foreach (int i in list)
                        shared[i] = shared.GetValueOrDefault(i) + 1;
                }
            }
            return shared.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Take(count).Select(p => p.Key);
        }
    }

    private static void Score(Unit claim, Unit a, Unit? b, HashSet<string> sourceNumbers, HashSet<string> sourceNames,
        ref double best, ref HashSet<string>? bestStems, ref double bestLexical, ref HashSet<string>? lexicalStems)
    {
        double total = 0, found = 0;
        foreach (string stem in claim.Stems)
        {
            double w = Weight(stem);
            total += w;
            if (a.Stems.Contains(stem) || (b is not null && b.Stems.Contains(stem)))
                found += w;
        }
        double support = total == 0 ? 1 : found / total;
        if (support > bestLexical)
        {
            bestLexical = support;
            lexicalStems = b is null ? a.Stems : new HashSet<string>(a.Stems.Concat(b.Stems));
        }
        foreach (string number in claim.Numbers)
        {
            if (a.Numbers.Contains(number) || (b is not null && b.Numbers.Contains(number)))
                continue;
            support *= sourceNumbers.Contains(number) ? MisplacedNumberPenalty : MissingNumberPenalty;
        }
        bool sourceNegated = a.Negated || (b is not null && b.Negated);
        if (claim.Negated != sourceNegated)
            support *= NegationPenalty;
        foreach (string name in claim.Names)
        {
            if (!sourceNames.Contains(name))
                support *= MissingNamePenalty;
        }
        // Two sentences must earn their extra words: prefer one sentence unless the pair is clearly better.
        if (b is not null)
            support *= 0.95;
        if (support > best)
        {
            best = support;
            bestStems = b is null ? a.Stems : new HashSet<string>(a.Stems.Concat(b.Stems));
        }
    }

    // Longer content words carry more meaning than short ones ("refund" vs "get").
    private static double Weight(string stem) => stem.Length <= 3 ? 0.6 : 1.0;

    private sealed class Unit
    {
        public HashSet<string> Stems { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Numbers { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);
        public HashSet<string> RawLower { get; } = new(StringComparer.Ordinal);
        public bool Negated { get; set; }
    }

    private static List<Unit> Split(string text, bool clauses)
    {
        var units = new List<Unit>();
        int start = 0;
        for (int i = 0; i <= text.Length; i++)
        {
            bool boundary = i == text.Length;
            if (!boundary)
            {
                char c = text[i];
                if (c is '\n' or '!' or '?' || (c is ';' && clauses))
                    boundary = true;
                else if (c == '.' && (i + 1 == text.Length || char.IsWhiteSpace(text[i + 1])) && !IsAbbreviation(text, i))
                    boundary = true;
                else if (clauses && c == ',' && FollowedBy(text, i + 1, " but ", " however ", " although ", " whereas ", " while "))
                    boundary = true;
            }
            if (boundary)
            {
                if (i > start)
                {
                    Unit u = Analyze(text.Substring(start, i - start));
                    if (u.Stems.Count > 0 || u.Numbers.Count > 0)
                        units.Add(u);
                }
                start = i + 1;
            }
        }
        return units;
    }

    private static bool FollowedBy(string text, int at, params string[] words)
    {
        foreach (string w in words)
        {
            if (at < text.Length && text.AsSpan(at).StartsWith(w, StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    private static bool IsAbbreviation(string text, int dot)
    {
        int k = dot - 1;
        while (k >= 0 && char.IsLetter(text[k]))
            k--;
        int length = dot - k - 1;
        if (length == 1)
            return true; // an initial: "J. Smith"
        string word = text.Substring(k + 1, length);
        return word is "Mr" or "Mrs" or "Ms" or "Dr" or "Prof" or "St" or "vs" or "etc" or "e.g" or "i.e" or "Inc" or "Jr" or "Sr" or "No";
    }

    private static Unit Analyze(string text)
    {
        var unit = new Unit();
        int i = 0;
        bool sentenceStart = true;
        var word = new StringBuilder();
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsDigit(c))
            {
                // A number: digits with inner separators ("1,200", "3.5"); a trailing "%" is dropped (same value).
                int s = i;
                while (i < text.Length && (char.IsDigit(text[i]) || ((text[i] is ',' or '.') && i + 1 < text.Length && char.IsDigit(text[i + 1]))))
                    i++;
                string number = text.Substring(s, i - s).Replace(",", string.Empty, StringComparison.Ordinal);
                if (number.Contains('.'))
                    number = number.TrimEnd('0').TrimEnd('.');
                unit.Numbers.Add(number);
                sentenceStart = false;
                continue;
            }
            if (char.IsLetter(c))
            {
                int s = i;
                word.Clear();
                while (i < text.Length && (char.IsLetter(text[i]) || (text[i] == '\'' && i + 1 < text.Length && char.IsLetter(text[i + 1]))))
                    word.Append(char.ToLowerInvariant(text[i++]));
                string lower = word.ToString();
                unit.RawLower.Add(lower);
                if (Negations.Contains(lower) || lower.EndsWith("n't", StringComparison.Ordinal))
                    unit.Negated = true;
                if (NumberWords.TryGetValue(lower, out string? n))
                    unit.Numbers.Add(n);
                else if (!StopWords.Contains(lower) && lower.Length > 1)
                {
                    unit.Stems.Add(Stem(lower));
                    if (!sentenceStart && char.IsUpper(text[s]) && lower.Length > 2)
                        unit.Names.Add(lower);
                }
                sentenceStart = false;
                continue;
            }
            if (c is ':' or '"' or '(' or '\n' or '-')
                sentenceStart = true;
            i++;
        }
        return unit;
    }

    /// <summary>A light English stemmer (plural, past, gerund, adverb and common derivational suffixes), enough to
    /// match "refunds"/"refunded"/"refunding" and "employees"/"employee".</summary>
    internal static string Stem(string w)
    {
        if (w.Length <= 3)
            return w;
        if (IrregularStems.TryGetValue(w, out string? irregular))
            return irregular;
        string s = w;
        if (s.EndsWith("ies", StringComparison.Ordinal) && s.Length > 4) s = s[..^3] + "y";
        else if (s.EndsWith("sses", StringComparison.Ordinal)) s = s[..^2];
        else if (s.EndsWith("ss", StringComparison.Ordinal)) { }
        else if (s.EndsWith("es", StringComparison.Ordinal) && s.Length > 4 && s[^3] is 's' or 'x' or 'z' or 'h') s = s[..^2];
        else if (s.EndsWith('s') && s.Length > 3 && s[^2] is not 'u' and not 'i') s = s[..^1];

        if (s.EndsWith("ing", StringComparison.Ordinal) && s.Length > 5) s = Undouble(s[..^3]);
        else if (s.EndsWith("ed", StringComparison.Ordinal) && s.Length > 4) s = Undouble(s[..^2]);
        if (s.EndsWith("ly", StringComparison.Ordinal) && s.Length > 5) s = s[..^2];
        foreach (string suffix in DerivationalSuffixes)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal) && s.Length - suffix.Length >= 4)
            {
                s = s[..^suffix.Length];
                break;
            }
        }
        if (s.EndsWith('e') && s.Length > 4) s = s[..^1];
        if (s.EndsWith('y') && s.Length > 4) s = s[..^1] + "i";
        return s;
    }

    private static string Undouble(string s) =>
        s.Length > 3 && s[^1] == s[^2] && s[^1] is not 'l' and not 's' and not 'z' ? s[..^1] : s;

    private static readonly string[] DerivationalSuffixes = ["ations", "ation", "ments", "ment", "ness", "ities", "ity", "ive", "ful", "able", "ible", "ance", "ence", "ion", "er", "or", "al"];

    private static readonly Dictionary<string, string> IrregularStems = new(StringComparer.Ordinal)
    {
        ["children"] = "child", ["men"] = "man", ["women"] = "woman", ["people"] = "person", ["paid"] = "pay",
        ["bought"] = "buy", ["sold"] = "sell", ["gave"] = "give", ["given"] = "give", ["took"] = "take", ["taken"] = "take",
        ["made"] = "make", ["went"] = "go", ["gone"] = "go", ["began"] = "begin", ["begun"] = "begin", ["wrote"] = "write",
        ["written"] = "write", ["founded"] = "found", ["built"] = "build", ["held"] = "hold", ["left"] = "leave",
        ["larger"] = "large", ["largest"] = "large", ["bigger"] = "big", ["biggest"] = "big", ["higher"] = "high",
        ["highest"] = "high", ["lower"] = "low", ["lowest"] = "low", ["better"] = "good", ["best"] = "good",
        ["worse"] = "bad", ["worst"] = "bad", ["died"] = "die", ["dies"] = "die", ["lives"] = "live", ["lived"] = "live",
    };

    private static readonly Dictionary<string, string> NumberWords = new(StringComparer.Ordinal)
    {
        ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6",
        ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12",
        ["thirteen"] = "13", ["fourteen"] = "14", ["fifteen"] = "15", ["sixteen"] = "16", ["seventeen"] = "17",
        ["eighteen"] = "18", ["nineteen"] = "19", ["twenty"] = "20", ["thirty"] = "30", ["forty"] = "40", ["fifty"] = "50",
        ["sixty"] = "60", ["seventy"] = "70", ["eighty"] = "80", ["ninety"] = "90", ["hundred"] = "100",
        ["thousand"] = "1000", ["million"] = "1000000", ["billion"] = "1000000000", ["first"] = "1st", ["second"] = "2nd",
        ["third"] = "3rd", ["once"] = "1x", ["twice"] = "2x", ["half"] = "0.5", ["dozen"] = "12",
    };

    private static readonly HashSet<string> Negations = new(StringComparer.Ordinal)
    {
        "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "cannot", "without", "unable", "non",
    };

    // Words of a query that say what kind of answer is wanted rather than what it is about.
    private static readonly HashSet<string> QueryFiller = new(StringComparer.Ordinal)
    {
        "tell", "know", "explain", "describ", "give", "list", "mean", "please", "happen", "anyon", "someth", "much", "many",
        "long", "often", "far", "old", "kind", "type", "way",
    };

    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "but", "if", "then", "than", "so", "of", "in", "on", "at", "to", "for", "from", "by",
        "with", "about", "as", "into", "onto", "over", "under", "after", "before", "between", "during", "through", "per",
        "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "done", "have", "has", "had", "having",
        "will", "would", "shall", "should", "can", "could", "may", "might", "must", "it", "its", "it's", "this", "that",
        "these", "those", "there", "here", "their", "they", "them", "he", "she", "his", "her", "him", "we", "us", "our",
        "you", "your", "i", "me", "my", "mine", "what", "which", "who", "whom", "whose", "when", "where", "why", "how",
        "also", "just", "only", "very", "too", "any", "all", "some", "each", "every", "other", "such", "more", "most",
        "own", "same", "both", "up", "down", "out", "off", "again", "further", "once", "yes", "sure", "okay", "ok",
        "well", "certainly", "according", "based", "answer", "question", "say", "says", "said", "get", "gets", "got",
        "not", "no", "never", "none", "nor", "cannot", "without", "is't", "there's", "that's", "here's", "let", "lets",
        "let's", "like", "can't", "don't", "doesn't", "didn't", "isn't", "aren't", "wasn't", "weren't", "won't",
        "wouldn't", "shouldn't", "couldn't", "haven't", "hasn't", "hadn't", "i'm", "you're", "we're", "they're",
    };
}
