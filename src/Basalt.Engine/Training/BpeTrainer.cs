using System.Text;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tokenization;

namespace Basalt.Engine.Training;

/// <summary>A trained byte-level BPE vocabulary: special tokens first, then the 256 byte tokens, then one token per merge.</summary>
public sealed class BpeVocabulary
{
    /// <summary>The pre-tokenizer the vocabulary was trained with (tokenizer.ggml.pre).</summary>
    public const string PreTokenizerName = "gpt-2";
    /// <summary>Separates documents; also the BOS token.</summary>
    public const string EndOfText = "<|endoftext|>";
    /// <summary>Opens a chat turn.</summary>
    public const string TurnStart = "<|im_start|>";
    /// <summary>Closes a chat turn; the engine ends generation on it.</summary>
    public const string TurnEnd = "<|im_end|>";

    /// <summary>ChatML, the template the default model is fine-tuned on.</summary>
    public const string ChatMlTemplate =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    internal BpeVocabulary(string[] tokens, string[] merges, int specials)
    {
        Tokens = tokens;
        Merges = merges;
        SpecialCount = specials;
    }

    /// <summary>Token texts in GPT-2's byte-level characters.</summary>
    public string[] Tokens { get; }
    /// <summary>"left right" per merge, in rank order.</summary>
    public string[] Merges { get; }
    /// <summary>Number of special tokens at the start of <see cref="Tokens"/>.</summary>
    public int SpecialCount { get; }
    /// <summary>Vocabulary size.</summary>
    public int Count => Tokens.Length;

    /// <summary>The tokenizer.* metadata that makes the engine's <see cref="Tokenizer"/> load this vocabulary, with <paramref name="chatTemplate"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> ToMetadata(string? chatTemplate = ChatMlTemplate)
    {
        var types = new int[Tokens.Length];
        for (var i = 0; i < types.Length; i++)
            types[i] = i < SpecialCount ? (int)TokenType.Control : (int)TokenType.Normal;
        var list = new List<KeyValuePair<string, GgufMetadataValue>>
        {
            new(GgufKeys.TokenizerModel, GgufMetadataValue.From("gpt2")),
            new(GgufKeys.TokenizerPre, GgufMetadataValue.From(PreTokenizerName)),
            new(GgufKeys.TokenizerTokens, GgufMetadataValue.Array(Tokens)),
            new(GgufKeys.TokenizerTokenType, GgufMetadataValue.Array(types)),
            new(GgufKeys.TokenizerMerges, GgufMetadataValue.Array(Merges)),
            new(GgufKeys.TokenizerBosId, GgufMetadataValue.From(0u)),
            new(GgufKeys.TokenizerEosId, GgufMetadataValue.From(0u)),
            new(GgufKeys.TokenizerPaddingId, GgufMetadataValue.From(0u)),
            new(GgufKeys.TokenizerAddBos, GgufMetadataValue.From(false)),
            new(GgufKeys.TokenizerAddEos, GgufMetadataValue.From(false)),
        };
        if (chatTemplate is not null)
            list.Add(new(GgufKeys.ChatTemplate, GgufMetadataValue.From(chatTemplate)));
        return list;
    }

    /// <summary>The engine's tokenizer over this vocabulary (what a model exported with it will use).</summary>
    public Tokenizer CreateTokenizer()
    {
        var writer = new GgufWriter();
        writer.Add(GgufKeys.Architecture, "llama");
        foreach (var e in ToMetadata())
            writer.Add(e.Key, e.Value);
        var path = Path.Combine(Path.GetTempPath(), $"basalt-bpe-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        try
        {
            writer.WriteTo(path);
            using var file = GgufFile.Open(path);
            return Tokenizer.FromGguf(file);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>Trains a byte-level BPE vocabulary: texts are split into words by the GPT-2 pre-tokenizer, words become byte-level
/// symbols, and the most frequent adjacent pair (ties: the smaller pair of ids) is merged until the vocabulary is full.</summary>
public static class BpeTrainer
{
    /// <summary>Special tokens every trained vocabulary starts with.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } = [BpeVocabulary.EndOfText, BpeVocabulary.TurnStart, BpeVocabulary.TurnEnd];

    /// <summary>Trains a vocabulary of at most <paramref name="vocabSize"/> tokens on <paramref name="texts"/> (fewer when no pair occurs twice).</summary>
    public static BpeVocabulary Train(IEnumerable<string> texts, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var specials = SpecialTokens.Count;
        if (vocabSize < specials + 256)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"A byte-level vocabulary needs at least {specials + 256} tokens.");

        // Word frequencies, in byte-level characters.
        var pre = PreTokenizer.ForName(BpeVocabulary.PreTokenizerName);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var spans = new List<(int Start, int Length)>();
        var bytes = new byte[256];
        var sb = new StringBuilder();
        foreach (var text in texts)
        {
            foreach (var part in text.Split(SpecialTokens.ToArray(), StringSplitOptions.None))
            {
                spans.Clear();
                pre.Split(part, spans);
                foreach (var (start, length) in spans)
                {
                    var word = part.AsSpan(start, length);
                    var n = Encoding.UTF8.GetByteCount(word);
                    if (n > bytes.Length)
                        bytes = new byte[n * 2];
                    Encoding.UTF8.GetBytes(word, bytes);
                    sb.Clear();
                    for (var i = 0; i < n; i++)
                        sb.Append(ByteLevel.ByteToChar[bytes[i]]);
                    var key = sb.ToString();
                    counts[key] = counts.GetValueOrDefault(key) + 1;
                }
            }
        }

        var tokens = new List<string>(SpecialTokens);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var b = 0; b < 256; b++)
        {
            var s = ByteLevel.ByteToChar[b].ToString();
            ids[s] = tokens.Count;
            tokens.Add(s);
        }
        // Words as symbol ids, sorted so the result does not depend on dictionary order.
        var keys = counts.Keys.ToArray();
        Array.Sort(keys, StringComparer.Ordinal);
        var words = new List<int>[keys.Length];
        var freq = new long[keys.Length];
        for (var w = 0; w < keys.Length; w++)
        {
            var symbols = new List<int>(keys[w].Length);
            foreach (var c in keys[w])
                symbols.Add(ids[c.ToString()]);
            words[w] = symbols;
            freq[w] = counts[keys[w]];
        }

        var pairCounts = new Dictionary<long, long>();
        var where = new Dictionary<long, List<int>>();
        static long Key(int a, int b) => ((long)a << 32) | (uint)b;
        for (var w = 0; w < words.Length; w++)
        {
            var s = words[w];
            for (var i = 0; i + 1 < s.Count; i++)
            {
                var k = Key(s[i], s[i + 1]);
                pairCounts[k] = pairCounts.GetValueOrDefault(k) + freq[w];
                if (!where.TryGetValue(k, out var list))
                    where[k] = list = [];
                if (list.Count == 0 || list[^1] != w)
                    list.Add(w);
            }
        }
        // Max-heap by count, ties to the smaller key; stale entries are skipped when popped.
        var heap = new PriorityQueue<long, (long NegCount, long Key)>();
        foreach (var (k, c) in pairCounts)
            heap.Enqueue(k, (-c, k));

        var merges = new List<string>();
        var changed = new HashSet<long>();
        var seen = new HashSet<int>();
        while (tokens.Count < vocabSize && heap.TryDequeue(out var best, out var priority))
        {
            if (pairCounts.GetValueOrDefault(best) != -priority.NegCount)
                continue;
            if (-priority.NegCount < 2)
                break;
            var a = (int)(best >> 32);
            var b = (int)(best & 0xFFFFFFFF);
            var merged = tokens.Count;
            tokens.Add(tokens[a] + tokens[b]);
            merges.Add(tokens[a] + " " + tokens[b]);
            changed.Clear();
            seen.Clear();
            foreach (var w in where[best])
            {
                if (!seen.Add(w))
                    continue;
                var s = words[w];
                var f = freq[w];
                var has = false;
                for (var i = 0; i + 1 < s.Count; i++)
                    if (s[i] == a && s[i + 1] == b)
                    {
                        has = true;
                        break;
                    }
                if (!has)
                    continue;
                for (var i = 0; i + 1 < s.Count; i++)
                {
                    var k = Key(s[i], s[i + 1]);
                    pairCounts[k] -= f;
                    changed.Add(k);
                }
                var next = new List<int>(s.Count);
                for (var i = 0; i < s.Count; i++)
                {
                    if (i + 1 < s.Count && s[i] == a && s[i + 1] == b)
                    {
                        next.Add(merged);
                        i++;
                    }
                    else
                        next.Add(s[i]);
                }
                words[w] = next;
                for (var i = 0; i + 1 < next.Count; i++)
                {
                    var k = Key(next[i], next[i + 1]);
                    pairCounts[k] = pairCounts.GetValueOrDefault(k) + f;
                    changed.Add(k);
                    if (!where.TryGetValue(k, out var list))
                        where[k] = list = [];
                    if (list.Count == 0 || list[^1] != w)
                        list.Add(w);
                }
            }
            foreach (var k in changed)
                if (pairCounts[k] > 0)
                    heap.Enqueue(k, (-pairCounts[k], k));
        }
        return new BpeVocabulary([.. tokens], [.. merges], specials);
    }
}
