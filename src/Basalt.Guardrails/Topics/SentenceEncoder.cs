using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Basalt.Guardrails.Content;

namespace Basalt.Guardrails.Topics;

/// <summary>Turns text into sentence vectors for denied topics: the frequency-weighted mean (smooth inverse frequency) of
/// word vectors the project trains itself (PPMI + truncated SVD over an English corpus and WordNet, see
/// docs/guardrails.md), with the corpus' common direction removed. A word outside the vocabulary gets the mean of its
/// character n-gram vectors, so misspellings and rare inflections still carry meaning. Immutable after load.</summary>
internal sealed class SentenceEncoder
{
    /// <summary>The embedded resource the trainer writes (tools/Basalt.Guardrails.Train).</summary>
    public const string ResourceName = "Basalt.Guardrails.Topics.Models.word-vectors.bin.gz";

    /// <summary>Words per window of a long text: a topic mentioned in one sentence of a long text still matches.</summary>
    public const int WindowWords = 24;
    private const int WindowStride = 12;

    /// <summary>Char n-gram buckets of the out-of-vocabulary backoff.</summary>
    public const int GramBuckets = 1 << 13;

    /// <summary>SIF's smoothing constant a in a / (a + p(w)); 1e-3 is the value its authors found robust.</summary>
    public const float SifA = 1e-3f;

    /// <summary>An unseen word is rare (full SIF weight, 1), but a vector guessed from its fragments counts half.</summary>
    private const float UnknownWordWeight = 0.5f;

    private const uint Magic = 0x56544742; // "BGTV"
    private const int Version = 2;

    private static readonly Lazy<SentenceEncoder> Shared = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Function words carry no topic: they are left out of sentence vectors (unless a text has nothing else).</summary>
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "but", "if", "then", "so", "of", "to", "in", "on", "at", "by", "for", "with", "from",
        "about", "as", "into", "over", "after", "before", "up", "down", "out", "off", "than", "too", "very", "just", "also",
        "i", "me", "my", "mine", "we", "us", "our", "you", "your", "yours", "he", "him", "his", "she", "her", "it", "its",
        "they", "them", "their", "this", "that", "these", "those", "there", "here", "what", "which", "who", "whom", "whose",
        "when", "where", "why", "how", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing",
        "have", "has", "had", "having", "can", "could", "should", "would", "will", "shall", "may", "might", "must", "not",
        "no", "yes", "all", "any", "some", "each", "every", "more", "most", "other", "such", "only", "own", "same", "now",
        "tell", "please", "know", "want", "get", "got", "make", "let", "give", "say", "said", "thing", "things", "really",
        "im", "ive", "dont", "cant", "whats", "its", "one", "like", "well", "still", "even", "much", "many", "way",
    };
    private static readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> StopLookup = StopWords.GetAlternateLookup<ReadOnlySpan<char>>();

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly float[] _vectors; // vocab x Dim, unit rows
    private readonly float[] _weights; // SIF weight per word
    private readonly float[] _grams;   // GramBuckets x Dim
    private readonly float[] _common;  // unit vector removed from sentence vectors

    /// <summary>Sentence vectors of ordinary English sentences (a Brown corpus sample): a topic's similarity to them is
    /// its baseline, so that scores are comparable across topics with specific and with generic wording.</summary>
    public float[][] Background { get; }

    public int Dim { get; }

    /// <summary>The score (cosine above the topic's baseline, in baseline spreads: see TopicPolicy) from which a text is
    /// on a topic, calibrated by the trainer on the paraphrase set.</summary>
    public float Threshold { get; }

    public SentenceEncoder(string[] words, float[] vectors, float[] weights, float[] grams, float[] common, float[][] background, int dim, float threshold)
    {
        Background = background;
        Dim = dim;
        Threshold = threshold;
        _vocab = new Dictionary<string, int>(words.Length, StringComparer.Ordinal);
        for (var i = 0; i < words.Length; i++) _vocab[words[i]] = i;
        _lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _vectors = vectors;
        _weights = weights;
        _grams = grams;
        _common = common;
    }

    /// <summary>The encoder shipped in the assembly, loaded once on first use.</summary>
    public static SentenceEncoder Embedded => Shared.Value;

    /// <summary>A new encoder sharing these vectors with another threshold (the trainer's calibration).</summary>
    public SentenceEncoder WithThreshold(float threshold) => new(this, threshold);

    private SentenceEncoder(SentenceEncoder other, float threshold)
    {
        Dim = other.Dim;
        Threshold = threshold;
        Background = other.Background;
        _vocab = other._vocab;
        _lookup = other._lookup;
        _vectors = other._vectors;
        _weights = other._weights;
        _grams = other._grams;
        _common = other._common;
    }

    /// <summary>The unit sentence vector of a whole text, or null when it has no words.</summary>
    public float[]? Encode(string text) => EncodeNormalized(ObfuscationNormalizer.Normalize(text).AsSpan());

    /// <summary>Sentence vectors of the text's windows (one for a short text); empty when it has no words.</summary>
    public List<float[]> EncodeWindows(string text)
    {
        var normalized = ObfuscationNormalizer.Normalize(text);
        var result = new List<float[]>();
        if (normalized.Length == 0) return result;
        var starts = new List<int> { 0 };
        for (var i = 0; i < normalized.Length; i++)
        {
            if (normalized[i] == ' ') starts.Add(i + 1);
        }
        for (var first = 0; ; first += WindowStride)
        {
            var last = Math.Min(starts.Count, first + WindowWords);
            var end = last < starts.Count ? starts[last] - 1 : normalized.Length;
            var v = EncodeNormalized(normalized.AsSpan(starts[first], end - starts[first]));
            if (v is not null) result.Add(v);
            if (last >= starts.Count) break;
        }
        return result;
    }

    private float[]? EncodeNormalized(ReadOnlySpan<char> normalized)
    {
        var contentWords = false;
        foreach (var range in normalized.Split(' '))
        {
            var word = normalized[range];
            if (!word.IsEmpty && !StopLookup.Contains(word))
            {
                contentWords = true;
                break;
            }
        }
        var sum = new float[Dim];
        var any = false;
        Span<float> scratch = stackalloc float[Dim];
        foreach (var range in normalized.Split(' '))
        {
            var word = normalized[range];
            if (word.IsEmpty || (contentWords && StopLookup.Contains(word))) continue;
            var weight = WordVector(word, scratch);
            if (weight <= 0) continue;
            for (var d = 0; d < Dim; d++) sum[d] += weight * scratch[d];
            any = true;
        }
        if (!any) return null;
        var dot = 0f;
        for (var d = 0; d < Dim; d++) dot += sum[d] * _common[d];
        for (var d = 0; d < Dim; d++) sum[d] -= dot * _common[d];
        return Normalize(sum) ? sum : null;
    }

    internal string[] Words()
    {
        var words = new string[_vocab.Count];
        foreach (var (word, id) in _vocab) words[id] = word;
        return words;
    }

    internal float[] Vectors => _vectors;
    internal float[] Weights => _weights;
    internal float[] GramTable => _grams;

    /// <summary>Writes the unit vector of a word into <paramref name="into"/> and returns its SIF weight (0: no vector).</summary>
    internal float WordVector(ReadOnlySpan<char> word, Span<float> into)
    {
        if (_lookup.TryGetValue(word, out var id) || TryStem(word, out id))
        {
            _vectors.AsSpan(id * Dim, Dim).CopyTo(into);
            return _weights[id];
        }
        if (word.Length < 3 || char.IsDigit(word[0])) return 0;
        into.Clear();
        var count = 0;
        foreach (var bucket in Grams(word))
        {
            var row = _grams.AsSpan(bucket * Dim, Dim);
            for (var d = 0; d < Dim; d++) into[d] += row[d];
            count++;
        }
        if (count == 0) return 0;
        var norm = 0f;
        for (var d = 0; d < Dim; d++) norm += into[d] * into[d];
        if (norm <= 1e-12f) return 0;
        var inv = 1f / MathF.Sqrt(norm);
        for (var d = 0; d < Dim; d++) into[d] *= inv;
        return UnknownWordWeight;
    }

    private bool TryStem(ReadOnlySpan<char> word, out int id)
    {
        id = -1;
        ReadOnlySpan<string> suffixes = ["s", "es", "ed", "ing", "ly", "er"];
        foreach (var suffix in suffixes)
        {
            if (word.Length > suffix.Length + 2 && word.EndsWith(suffix) && _lookup.TryGetValue(word[..^suffix.Length], out id)) return true;
        }
        return false;
    }

    /// <summary>The buckets of the char 3- to 5-grams of "&lt;word&gt;".</summary>
    internal static List<int> Grams(ReadOnlySpan<char> word)
    {
        var result = new List<int>();
        if (word.Length > 40) word = word[..40];
        for (var n = 3; n <= 5; n++)
        {
            for (var start = -1; start + n <= word.Length + 1; start++)
            {
                var h = 2166136261u ^ (uint)n;
                for (var k = start; k < start + n; k++)
                {
                    var c = k < 0 ? '<' : k >= word.Length ? '>' : word[k];
                    h = (h ^ c) * 16777619u;
                }
                h ^= h >> 15;
                h *= 0x2C1B3C6Du;
                h ^= h >> 12;
                result.Add((int)(h & (GramBuckets - 1)));
            }
        }
        return result;
    }

    public static float Cosine(float[] a, float[] b)
    {
        var dot = 0f;
        for (var i = 0; i < a.Length; i++) dot += a[i] * b[i];
        return dot; // both are unit vectors
    }

    internal static bool Normalize(Span<float> v)
    {
        var norm = 0f;
        foreach (var x in v) norm += x * x;
        if (norm <= 1e-12f) return false;
        var inv = 1f / MathF.Sqrt(norm);
        for (var i = 0; i < v.Length; i++) v[i] *= inv;
        return true;
    }

    /// <summary>Writes the encoder: gzip of header, threshold, common direction, words with weight and int8 vector, grams.</summary>
    public void Write(Stream stream)
    {
        using var gz = new GZipStream(stream, CompressionLevel.SmallestSize, leaveOpen: true);
        using var w = new BinaryWriter(gz, Encoding.UTF8);
        w.Write(Magic);
        w.Write(Version);
        w.Write(Dim);
        w.Write(_vocab.Count);
        w.Write(GramBuckets);
        w.Write(Threshold);
        foreach (var x in _common) w.Write(x);
        w.Write(Background.Length);
        foreach (var row in Background) WriteInt8(w, row);
        var words = Words();
        for (var i = 0; i < words.Length; i++)
        {
            w.Write(words[i]);
            w.Write(_weights[i]);
            WriteInt8(w, _vectors.AsSpan(i * Dim, Dim));
        }
        for (var b = 0; b < GramBuckets; b++) WriteInt8(w, _grams.AsSpan(b * Dim, Dim));
    }

    private static void WriteInt8(BinaryWriter w, ReadOnlySpan<float> row)
    {
        var max = 0f;
        foreach (var x in row) max = Math.Max(max, Math.Abs(x));
        var scale = max > 0 ? max / 127f : 1f;
        w.Write(scale);
        foreach (var x in row) w.Write((sbyte)Math.Clamp(MathF.Round(x / scale), -127, 127));
    }

    private static void ReadInt8(BinaryReader r, Span<float> row)
    {
        var scale = r.ReadSingle();
        var bytes = r.ReadBytes(row.Length);
        if (bytes.Length != row.Length) throw new InvalidDataException("word vectors are truncated");
        for (var i = 0; i < row.Length; i++) row[i] = (sbyte)bytes[i] * scale;
    }

    /// <summary>Reads an encoder written by <see cref="Write"/>.</summary>
    public static SentenceEncoder Read(Stream stream)
    {
        using var gz = new GZipStream(stream, CompressionMode.Decompress);
        using var r = new BinaryReader(gz, Encoding.UTF8);
        var magic = r.ReadUInt32();
        var version = r.ReadInt32();
        // version 1 had no background sentences
        if (magic != Magic || version is < 1 or > Version) throw new InvalidDataException("not Basalt word vectors (version 1 or 2)");
        var dim = r.ReadInt32();
        var count = r.ReadInt32();
        if (r.ReadInt32() != GramBuckets) throw new InvalidDataException("word vectors' n-gram table differs from this build; retrain");
        var threshold = r.ReadSingle();
        var common = new float[dim];
        for (var d = 0; d < dim; d++) common[d] = r.ReadSingle();
        var background = new float[version >= 2 ? r.ReadInt32() : 0][];
        for (var i = 0; i < background.Length; i++)
        {
            background[i] = new float[dim];
            ReadInt8(r, background[i]);
            Normalize(background[i]);
        }
        var words = new string[count];
        var weights = new float[count];
        var vectors = new float[count * dim];
        for (var i = 0; i < count; i++)
        {
            words[i] = r.ReadString();
            weights[i] = r.ReadSingle();
            ReadInt8(r, vectors.AsSpan(i * dim, dim));
            Normalize(vectors.AsSpan(i * dim, dim));
        }
        var grams = new float[GramBuckets * dim];
        for (var b = 0; b < GramBuckets; b++) ReadInt8(r, grams.AsSpan(b * dim, dim));
        return new SentenceEncoder(words, vectors, weights, grams, common, background, dim, threshold);
    }

    private static SentenceEncoder LoadEmbedded()
    {
        using var stream = typeof(SentenceEncoder).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing; build Basalt.Guardrails from the repo");
        return Read(stream);
    }
}
