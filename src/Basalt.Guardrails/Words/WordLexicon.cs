namespace Basalt.Guardrails.Words;

/// <summary>A set of words and phrases keyed by their folded form (<see cref="WordTokens.KeyOf"/>), each with a value
/// (the index of the custom word, or 0 for a managed list). Single words also get masked keys ("f**k") so that
/// asterisk-censored spellings match. Immutable after construction; lookups take spans and allocate nothing.</summary>
internal sealed class WordLexicon
{
    private const int MaxMaskedWordLength = 12;

    private readonly Dictionary<string, int> _keys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly HashSet<string> _phraseStarts = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _phraseStartLookup;

    public WordLexicon(IEnumerable<(string Text, int Value)> entries)
    {
        foreach ((string text, int value) in entries)
        {
            string? key = WordTokens.KeyOf(text);
            if (key is null)
                continue;
            _keys.TryAdd(key, value);
            if (key.Contains(' '))
            {
                // "alligator bait" also matches "alligatorbait" and "alligator-bait".
                _keys.TryAdd(key.Replace(" ", string.Empty, StringComparison.Ordinal), value);
                _phraseStarts.Add(key[..key.IndexOf(' ')]);
                MaxTokens = Math.Max(MaxTokens, key.Count(c => c == ' ') + 1);
            }
            else if (key.Length is >= 4 and <= MaxMaskedWordLength)
            {
                AddMasked(key, value);
            }
        }
        _lookup = _keys.GetAlternateLookup<ReadOnlySpan<char>>();
        _phraseStartLookup = _phraseStarts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (string key in _keys.Keys)
        {
            MinKeyLength = Math.Min(MinKeyLength, key.Length);
            MaxKeyLength = Math.Max(MaxKeyLength, key.Length);
        }
    }

    /// <summary>Shortest key; a shorter token cannot match.</summary>
    public int MinKeyLength { get; } = int.MaxValue;

    /// <summary>Longest key; a longer token cannot match.</summary>
    public int MaxKeyLength { get; }

    /// <summary>Whether some phrase starts with this word (only then are phrases tried at a token).</summary>
    public bool StartsPhrase(ReadOnlySpan<char> word) => _phraseStartLookup.Contains(word);

    /// <summary>The most tokens of any phrase (1 when all entries are single words).</summary>
    public int MaxTokens { get; } = 1;

    /// <summary>Number of keys, masked variants included.</summary>
    public int Count => _keys.Count;

    public bool TryGet(ReadOnlySpan<char> key, out int value)
    {
        value = 0;
        return key.Length >= MinKeyLength && key.Length <= MaxKeyLength && _lookup.TryGetValue(key, out value);
    }

    private void AddMasked(string key, int value)
    {
        // Every contiguous interior run of letters replaced by '*': f*ck, f**k, sh*t, b*tch, b**ch ...
        Span<char> buffer = stackalloc char[MaxMaskedWordLength];
        for (int start = 1; start < key.Length - 1; start++)
        {
            for (int end = start + 1; end <= key.Length - 1; end++)
            {
                key.AsSpan().CopyTo(buffer);
                buffer[start..end].Fill('*');
                _keys.TryAdd(new string(buffer[..key.Length]), value);
            }
        }
    }
}
