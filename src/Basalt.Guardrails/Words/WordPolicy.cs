using System.Buffers;
using System.Reflection;

namespace Basalt.Guardrails.Words;

/// <summary>Bedrock's word filters: custom words and phrases and the managed PROFANITY list. Matching runs on folded
/// text (<see cref="TextNormalizer"/>: case, full-width, diacritics, Cyrillic/Greek look-alikes) over whole word tokens,
/// with leetspeak ("sh1t", "@ss"), asterisk masks ("f**k"), elongation ("shiiiit"), spaced or dotted letters
/// ("s h i t", "s.h.i.t"), split words ("sh.it") and simple inflections ("dicks", "bitching"). Findings carry the
/// original text's match and span. Built once, immutable, thread-safe.</summary>
public sealed class WordPolicy
{
    /// <summary>The managed word list type Bedrock defines.</summary>
    public const string Profanity = "PROFANITY";

    /// <summary>Most custom words a policy may have (Bedrock's limit).</summary>
    public const int MaxWords = 10_000;

    /// <summary>Longest custom word or phrase, in characters (Bedrock's limit).</summary>
    public const int MaxWordLength = 100;

    /// <summary>Most findings one assessment reports; the text is blocked long before that.</summary>
    public const int MaxFindings = 100;

    // Longest run of spaced single letters examined ("s h i t" is 4); longer runs are cut into windows.
    private const int MaxSpacedRun = 40;

    // Tokens longer than this cannot be a listed word (the longest configured key is ~100 chars); skipping them bounds work.
    private const int MaxTokenLength = 128;

    private static readonly Lazy<WordLexicon> ProfanityLexicon = new(LoadProfanity);

    private readonly WordConfig[] _words;
    private readonly WordLexicon? _custom;
    private readonly ManagedWordListConfig? _profanity;

    /// <summary>Builds the policy; throws <see cref="ArgumentException"/> with a message for the user when the config is invalid.</summary>
    public WordPolicy(WordPolicyConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        IReadOnlyList<WordConfig> words = config.Words ?? [];
        if (words.Count > MaxWords)
            throw new ArgumentException($"A word policy has at most {MaxWords} custom words; this one has {words.Count}.");
        _words = new WordConfig[words.Count];
        var entries = new List<(string, int)>(words.Count);
        for (int i = 0; i < words.Count; i++)
        {
            WordConfig word = words[i] ?? throw new ArgumentException("A custom word is null.");
            if (string.IsNullOrWhiteSpace(word.Text))
                throw new ArgumentException("A custom word's text is empty; give the word or phrase to filter.");
            if (word.Text.Length > MaxWordLength)
                throw new ArgumentException($"The custom word '{word.Text[..20]}...' is {word.Text.Length} characters; the limit is {MaxWordLength}.");
            if (WordTokens.KeyOf(word.Text) is null)
                throw new ArgumentException($"The custom word '{word.Text}' has no letters; a word filter matches words.");
            CheckAction(word.InputAction, "inputAction");
            CheckAction(word.OutputAction, "outputAction");
            _words[i] = word;
            entries.Add((word.Text, i));
        }
        _custom = entries.Count > 0 ? new WordLexicon(entries) : null;

        foreach (ManagedWordListConfig list in config.ManagedLists ?? [])
        {
            if (list is null || !string.Equals(list.Type, Profanity, StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"Unknown managed word list type '{list?.Type}'; the only type is {Profanity}.");
            CheckAction(list.InputAction, "inputAction");
            CheckAction(list.OutputAction, "outputAction");
            _profanity = list;
        }
        if (_profanity is not null)
            _ = ProfanityLexicon.Value;
    }

    /// <summary>Number of words in the managed PROFANITY list.</summary>
    public static int ProfanityListSize => ProfanityWords.Value.Length;

    /// <summary>Finds the configured words in <paramref name="text"/>. Never throws on any string.</summary>
    public IReadOnlyList<WordFinding> Assess(string text, GuardrailSource source)
    {
        bool customActive = _custom is not null;
        bool profanityActive = _profanity is not null && (source == GuardrailSource.Input ? _profanity.InputEnabled : _profanity.OutputEnabled);
        if (string.IsNullOrEmpty(text) || (!customActive && !profanityActive))
            return [];

        var scan = new Scan(this, TextNormalizer.Normalize(text), source, profanityActive);
        return scan.Run();
    }

    private static void CheckAction(PolicyAction action, string field)
    {
        if (action == PolicyAction.Anonymized)
            throw new ArgumentException($"A word filter's {field} is BLOCK or NONE; ANONYMIZE applies to sensitive information only.");
    }

    private static readonly Lazy<string[]> ProfanityWords = new(() =>
    {
        using Stream stream = typeof(WordPolicy).Assembly.GetManifestResourceStream("Basalt.Guardrails.Words.profanity.txt")
            ?? throw new InvalidOperationException("The PROFANITY list resource is missing from Basalt.Guardrails.");
        using var reader = new StreamReader(stream);
        var words = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            line = line.Trim();
            if (line.Length > 0 && line[0] != '#')
                words.Add(line);
        }
        return words.ToArray();
    });

    private static WordLexicon LoadProfanity()
    {
        string[] words = ProfanityWords.Value;
        var entries = new (string, int)[words.Length];
        for (int i = 0; i < words.Length; i++)
            entries[i] = (words[i], 0);
        return new WordLexicon(entries);
    }

    /// <summary>One assessment's state: the folded text, its tokens and the findings so far.</summary>
    private sealed class Scan
    {
        private readonly WordPolicy _policy;
        private readonly NormalizedText _text;
        private readonly GuardrailSource _source;
        private readonly WordLexicon? _profanity;
        private readonly List<WordToken> _tokens = [];
        private readonly List<WordFinding> _findings = [];
        private bool[] _consumed = [];

        public Scan(WordPolicy policy, NormalizedText text, GuardrailSource source, bool profanityActive)
        {
            _policy = policy;
            _text = text;
            _source = source;
            _profanity = profanityActive ? ProfanityLexicon.Value : null;
        }

        private int MaxTokens => Math.Max(_policy._custom?.MaxTokens ?? 1, _profanity?.MaxTokens ?? 1);

        public IReadOnlyList<WordFinding> Run()
        {
            string folded = _text.Text;
            WordTokens.Tokenize(folded, _tokens);
            if (_tokens.Count == 0)
                return [];
            _consumed = new bool[_tokens.Count];
            char[] buffer = ArrayPool<char>.Shared.Rent(Math.Min(folded.Length, MaxTokenLength * 8) + 16);
            try
            {
                for (int i = 0; i < _tokens.Count && _findings.Count < MaxFindings; i++)
                {
                    if (!_consumed[i])
                        MatchAt(i, buffer);
                }
                MatchSpacedRuns(buffer);
            }
            finally
            {
                ArrayPool<char>.Shared.Return(buffer);
            }
            if (_findings.Count > 1)
                _findings.Sort((a, b) => a.Span.Start.CompareTo(b.Span.Start));
            return _findings;
        }

        private void MatchAt(int i, char[] buffer)
        {
            string folded = _text.Text;
            // Phrases first, longest first, so "arse bandit" wins over "arse"; only at a token that starts some phrase.
            int firstLength = AppendKey(folded, _tokens[i].CoreStart, _tokens[i].CoreEnd, buffer, 0);
            bool startsPhrase = (_policy._custom?.StartsPhrase(buffer.AsSpan(0, firstLength)) ?? false)
                || (_profanity?.StartsPhrase(buffer.AsSpan(0, firstLength)) ?? false);
            for (int n = startsPhrase ? Math.Min(MaxTokens, _tokens.Count - i) : 1; n >= 2; n--)
            {
                int length = 0;
                bool fits = true;
                for (int k = i; k < i + n && fits; k++)
                {
                    WordToken t = _tokens[k];
                    if (length + t.CoreLength + 1 > buffer.Length)
                    {
                        fits = false;
                        break;
                    }
                    if (k > i)
                        buffer[length++] = ' ';
                    length = AppendKey(folded, t.CoreStart, t.CoreEnd, buffer, length);
                }
                if (fits && Lookup(buffer.AsSpan(0, length), _tokens[i].CoreStart, _tokens[i + n - 1].CoreEnd, i, n))
                    return;
            }

            WordToken token = _tokens[i];
            if (token.Length > MaxTokenLength)
                return;

            // Split words joined by punctuation: "sh.it", "fu-ck", "f_u_c_k" is handled as a spaced run.
            for (int n = Math.Min(3, _tokens.Count - i); n >= 2; n--)
            {
                if (!JoinedByPunctuation(i, n))
                    continue;
                int length = 0;
                for (int k = i; k < i + n; k++)
                    length = AppendKey(folded, _tokens[k].CoreStart, _tokens[k].CoreEnd, buffer, length);
                if (length >= 3 && Lookup(buffer.AsSpan(0, length), _tokens[i].CoreStart, _tokens[i + n - 1].CoreEnd, i, n))
                    return;
            }

            // The token as written, then without edge symbols ("a$$" keeps its "$$", "hell!" drops its "!").
            int full = AppendKey(folded, token.Start, token.End, buffer, 0);
            if (Lookup(buffer.AsSpan(0, full), token.Start, token.End, i, 1))
                return;
            int core = AppendKey(folded, token.CoreStart, token.CoreEnd, buffer, 0);
            if (core != full && Lookup(buffer.AsSpan(0, core), token.CoreStart, token.CoreEnd, i, 1))
                return;
            Span<char> key = buffer.AsSpan(0, core);

            // Spaced with asterisks: "s*h*i*t".
            if (key.Contains('*'))
            {
                int length = 0;
                foreach (char c in key)
                {
                    if (c != '*')
                        buffer[core + length++] = c;
                }
                if (Lookup(buffer.AsSpan(core, length), token.CoreStart, token.CoreEnd, i, 1))
                    return;
            }

            // Elongated: "shiiiit", "fuuuuck" (runs of three or more letters cut to one, then two).
            if (HasRunOfThree(key))
            {
                for (int keep = 1; keep <= 2; keep++)
                {
                    int length = Collapse(key, buffer.AsSpan(core), keep);
                    if (Lookup(buffer.AsSpan(core, length), token.CoreStart, token.CoreEnd, i, 1))
                        return;
                }
            }

            // Inflections of a listed word: plural -s (not after s: "assess" is not "asses"), -ing, -ed.
            if (key.Length >= 4 && key[^1] == 's' && key[^2] != 's'
                && Lookup(key[..^1], token.CoreStart, token.CoreEnd, i, 1))
                return;
            if (key.Length >= 7 && key.EndsWith("ing") && Lookup(key[..^3], token.CoreStart, token.CoreEnd, i, 1))
                return;
            if (key.Length >= 6 && key.EndsWith("ed"))
                Lookup(key[..^2], token.CoreStart, token.CoreEnd, i, 1);
        }

        private bool JoinedByPunctuation(int i, int n)
        {
            string folded = _text.Text;
            for (int k = i; k < i + n - 1; k++)
            {
                int gapStart = _tokens[k].End, gapEnd = _tokens[k + 1].Start;
                if (gapEnd - gapStart > 2)
                    return false;
                for (int g = gapStart; g < gapEnd; g++)
                {
                    if (char.IsWhiteSpace(folded[g]))
                        return false;
                }
                if (_tokens[k].CoreLength > 4 || _tokens[k + 1].CoreLength > 4)
                    return false;
            }
            return true;
        }

        private void MatchSpacedRuns(char[] buffer)
        {
            string folded = _text.Text;
            int i = 0;
            while (i < _tokens.Count && _findings.Count < MaxFindings)
            {
                if (_consumed[i] || _tokens[i].Length != 1)
                {
                    i++;
                    continue;
                }
                int end = i + 1;
                while (end < _tokens.Count && end - i < MaxSpacedRun && !_consumed[end] && _tokens[end].Length == 1
                       && SpacingGap(folded, _tokens[end - 1].End, _tokens[end].Start))
                    end++;
                int run = end - i;
                if (run >= 3)
                {
                    for (int k = 0; k < run; k++)
                        buffer[k] = WordTokens.KeyChar(folded[_tokens[i + k].Start]);
                    // The whole run is the word ("a s s e m b l y" is not "ass"); a leading or trailing one-letter word
                    // ("a", "i") may stand beside it: "you are a s h i t".
                    int s = 0, e = run;
                    if (!Lookup(buffer.AsSpan(0, run), _tokens[i].Start, _tokens[end - 1].End, i, run))
                    {
                        while (s < run - 3 && buffer[s] is 'a' or 'i')
                            s++;
                        while (e > s + 3 && buffer[e - 1] is 'a' or 'i')
                            e--;
                        if (s > 0 || e < run)
                            Lookup(buffer.AsSpan(s, e - s), _tokens[i + s].Start, _tokens[i + e - 1].End, i + s, e - s);
                    }
                }
                i = end;
            }
        }

        private static bool SpacingGap(string folded, int from, int to)
        {
            if (to - from is < 1 or > 3)
                return false;
            for (int g = from; g < to; g++)
            {
                if (folded[g] is '\n' or '\r')
                    return false;
            }
            return true;
        }

        private static int AppendKey(string folded, int start, int end, char[] buffer, int at)
        {
            for (int k = start; k < end && at < buffer.Length; k++)
                buffer[at++] = WordTokens.KeyChar(folded[k]);
            return at;
        }

        private static bool HasRunOfThree(ReadOnlySpan<char> key)
        {
            for (int k = 2; k < key.Length; k++)
            {
                if (key[k] == key[k - 1] && key[k] == key[k - 2])
                    return true;
            }
            return false;
        }

        private static int Collapse(ReadOnlySpan<char> key, Span<char> into, int keep)
        {
            int length = 0, k = 0;
            while (k < key.Length && length < into.Length)
            {
                int run = 1;
                while (k + run < key.Length && key[k + run] == key[k])
                    run++;
                int copies = run >= 3 ? Math.Min(keep, run) : run;
                for (int c = 0; c < copies && length < into.Length; c++)
                    into[length++] = key[k];
                k += run;
            }
            return length;
        }

        /// <summary>Looks a key up in the active lexicons; on a hit records findings for folded [start, end) and marks
        /// tokens [firstToken, firstToken + tokenCount) consumed.</summary>
        private bool Lookup(ReadOnlySpan<char> key, int start, int end, int firstToken, int tokenCount)
        {
            if (key.Length == 0)
                return false;
            bool hit = false;
            TextSpan span = default;
            if (_policy._custom is not null && _policy._custom.TryGet(key, out int index))
            {
                WordConfig word = _policy._words[index];
                bool enabled = _source == GuardrailSource.Input ? word.InputEnabled : word.OutputEnabled;
                if (enabled)
                {
                    span = _text.ToOriginal(start, end - start);
                    PolicyAction action = _source == GuardrailSource.Input ? word.InputAction : word.OutputAction;
                    _findings.Add(new WordFinding(Slice(span), null, span, action, true));
                    hit = true;
                }
            }
            if (_profanity is not null && _profanity.TryGet(key, out _))
            {
                ManagedWordListConfig list = _policy._profanity!;
                if (!hit)
                    span = _text.ToOriginal(start, end - start);
                PolicyAction action = _source == GuardrailSource.Input ? list.InputAction : list.OutputAction;
                _findings.Add(new WordFinding(Slice(span), Profanity, span, action, true));
                hit = true;
            }
            if (hit)
            {
                for (int k = firstToken; k < firstToken + tokenCount && k < _consumed.Length; k++)
                    _consumed[k] = true;
            }
            return hit;
        }

        private string Slice(TextSpan span) => _text.Original.Substring(span.Start, span.Length);
    }
}
