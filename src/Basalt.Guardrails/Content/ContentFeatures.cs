namespace Basalt.Guardrails.Content;

/// <summary>Hashed features of normalized text shared by the content model's trainer and its inference: each word, each
/// pair of adjacent words and the character 3- and 4-grams of each word (with boundary marks, so "kill" also lights
/// up in "killing" and misspellings keep most of their grams), hashed into <see cref="Buckets"/> buckets.</summary>
internal static class ContentFeatures
{
    /// <summary>Hash buckets; 2^16 keeps the shipped weights under 1 MB while collisions stay rare for the training vocabulary.</summary>
    public const int Buckets = 1 << 16;

    /// <summary>Words longer than this contribute only their word feature (no char grams), bounding work per word.</summary>
    private const int MaxGrammedWord = 32;

    /// <summary>An upper bound of the features <see cref="Extract"/> writes for a span of words.</summary>
    public static int MaxFeatures(ReadOnlySpan<char> normalized) => normalized.Length * 2 + 2 * CountWords(normalized) + 2;

    /// <summary>Counts the words of normalized text.</summary>
    public static int CountWords(ReadOnlySpan<char> normalized)
    {
        if (normalized.IsEmpty) return 0;
        return normalized.Count(' ') + 1;
    }

    /// <summary>Writes the bucket of every feature of <paramref name="normalized"/> (words separated by single spaces) into
    /// <paramref name="features"/> and returns how many it wrote.</summary>
    public static int Extract(ReadOnlySpan<char> normalized, Span<int> features)
    {
        var n = 0;
        uint previous = 0;
        var havePrevious = false;
        var rest = normalized;
        while (!rest.IsEmpty)
        {
            var space = rest.IndexOf(' ');
            var word = space < 0 ? rest : rest[..space];
            rest = space < 0 ? ReadOnlySpan<char>.Empty : rest[(space + 1)..];
            if (word.IsEmpty) continue;
            var wordHash = Hash(0x57u, word);
            features[n++] = Bucket(wordHash);
            if (havePrevious) features[n++] = Bucket(Mix(previous * 0x9E3779B1u ^ wordHash ^ 0xB16u));
            previous = wordHash;
            havePrevious = true;
            if (word.Length > MaxGrammedWord) continue;
            // grams of "<word>": positions -1 and word.Length are the boundary marks
            for (var gram = 3; gram <= 4; gram++)
            {
                for (var start = -1; start + gram <= word.Length + 1; start++)
                {
                    var h = 2166136261u ^ (uint)gram;
                    for (var k = start; k < start + gram; k++)
                    {
                        var c = k < 0 ? '<' : k >= word.Length ? '>' : word[k];
                        h = (h ^ c) * 16777619u;
                    }
                    features[n++] = Bucket(Mix(h));
                }
            }
        }
        return n;
    }

    private static uint Hash(uint seed, ReadOnlySpan<char> s)
    {
        var h = 2166136261u ^ seed;
        foreach (var c in s) h = (h ^ c) * 16777619u;
        return Mix(h);
    }

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        return h;
    }

    private static int Bucket(uint h) => (int)(h & (Buckets - 1));
}
