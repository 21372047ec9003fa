using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace Basalt.Guardrails.Content;

/// <summary>The trained content classifier: one logistic regression per category over <see cref="ContentFeatures"/>,
/// scored over windows of words so that one abusive sentence inside a long benign text still counts.
/// Immutable after load; shared by every policy.</summary>
internal sealed class ContentModel
{
    /// <summary>The embedded resource the trainer writes (tools/Basalt.Guardrails.Train).</summary>
    public const string ResourceName = "Basalt.Guardrails.Content.Models.content-model.bin.gz";

    /// <summary>Words per scoring window and the step between windows: a sentence or two, overlapping by half.</summary>
    public const int WindowWords = 10;
    private const int WindowStride = 5;

    private const uint Magic = 0x4D434742; // "BGCM"
    private const int Version = 1;

    private static readonly Lazy<ContentModel> Shared = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    // weights[bucket * Count + category]: a feature's six weights sit together
    private readonly float[] _weights;
    private readonly float[] _bias;

    /// <summary>Probability thresholds for LOW, MEDIUM and HIGH confidence, chosen by the trainer.</summary>
    public float[] Thresholds { get; }

    public ContentModel(float[] weights, float[] bias, float[] thresholds)
    {
        if (weights.Length != ContentFeatures.Buckets * ContentCategory.Count) throw new ArgumentException("weights have the wrong size", nameof(weights));
        _weights = weights;
        _bias = bias;
        Thresholds = thresholds;
    }

    /// <summary>The model shipped in the assembly, loaded once on first use.</summary>
    public static ContentModel Embedded => Shared.Value;

    /// <summary>Maps a probability to Bedrock's confidence.</summary>
    public FilterStrength Confidence(float probability) =>
        probability >= Thresholds[2] ? FilterStrength.High
        : probability >= Thresholds[1] ? FilterStrength.Medium
        : probability >= Thresholds[0] ? FilterStrength.Low
        : FilterStrength.None;

    /// <summary>Adds to <paramref name="probabilities"/> (max per category) the scores of normalized text.</summary>
    public void ScoreMax(string normalized, Span<float> probabilities)
    {
        if (normalized.Length == 0) return;
        // word start offsets, to cut windows
        var starts = new List<int>(normalized.Length / 5 + 1) { 0 };
        for (var i = 0; i < normalized.Length; i++)
        {
            if (normalized[i] == ' ') starts.Add(i + 1);
        }
        var words = starts.Count;
        var buffer = ArrayPool<int>.Shared.Rent(1024);
        try
        {
            Span<float> scores = stackalloc float[ContentCategory.Count];
            for (var first = 0; ; first += WindowStride)
            {
                var last = Math.Min(words, first + WindowWords);
                var start = starts[first];
                var end = last < words ? starts[last] - 1 : normalized.Length;
                var window = normalized.AsSpan(start, end - start);
                var needed = ContentFeatures.MaxFeatures(window);
                if (needed > buffer.Length)
                {
                    ArrayPool<int>.Shared.Return(buffer);
                    buffer = ArrayPool<int>.Shared.Rent(needed);
                }
                var n = ContentFeatures.Extract(window, buffer);
                Score(buffer.AsSpan(0, n), scores);
                for (var c = 0; c < ContentCategory.Count; c++)
                {
                    if (scores[c] > probabilities[c]) probabilities[c] = scores[c];
                }
                if (last >= words) break;
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(buffer);
        }
    }

    /// <summary>The value of each feature of a window with <paramref name="count"/> features: constant, so that a phrase
    /// weighs the same in a short window as in a long one (1/sqrt(count) let benign words dilute "kill yourself").</summary>
    public static float FeatureScale(int count) => count == 0 ? 0f : 0.15f;

    /// <summary>Probabilities of each category for one window's features.</summary>
    public void Score(ReadOnlySpan<int> features, Span<float> probabilities)
    {
        Span<float> z = stackalloc float[ContentCategory.Count];
        _bias.CopyTo(z);
        if (!features.IsEmpty)
        {
            var scale = FeatureScale(features.Length);
            var w = _weights;
            foreach (var f in features)
            {
                var row = f * ContentCategory.Count;
                for (var c = 0; c < ContentCategory.Count; c++) z[c] += w[row + c] * scale;
            }
        }
        for (var c = 0; c < ContentCategory.Count; c++) probabilities[c] = 1f / (1f + MathF.Exp(-z[c]));
    }

    /// <summary>Writes the model: gzip of a header, thresholds, biases and half-precision weights.</summary>
    public void Write(Stream stream)
    {
        using var gz = new GZipStream(stream, CompressionLevel.SmallestSize, leaveOpen: true);
        using var w = new BinaryWriter(gz);
        w.Write(Magic);
        w.Write(Version);
        w.Write(ContentFeatures.Buckets);
        w.Write(ContentCategory.Count);
        foreach (var t in Thresholds) w.Write(t);
        foreach (var b in _bias) w.Write(b);
        foreach (var x in _weights) w.Write((Half)x);
    }

    /// <summary>Reads a model written by <see cref="Write"/>.</summary>
    public static ContentModel Read(Stream stream)
    {
        using var gz = new GZipStream(stream, CompressionMode.Decompress);
        using var r = new BinaryReader(gz);
        if (r.ReadUInt32() != Magic || r.ReadInt32() != Version) throw new InvalidDataException("not a Basalt content model (version 1)");
        if (r.ReadInt32() != ContentFeatures.Buckets || r.ReadInt32() != ContentCategory.Count)
        {
            throw new InvalidDataException("content model shape differs from this build's features; retrain it");
        }
        var thresholds = new float[3];
        for (var i = 0; i < 3; i++) thresholds[i] = r.ReadSingle();
        var bias = new float[ContentCategory.Count];
        for (var i = 0; i < bias.Length; i++) bias[i] = r.ReadSingle();
        var weights = new float[ContentFeatures.Buckets * ContentCategory.Count];
        var bytes = r.ReadBytes(weights.Length * 2);
        if (bytes.Length != weights.Length * 2) throw new InvalidDataException("content model is truncated");
        for (var i = 0; i < weights.Length; i++) weights[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * 2));
        return new ContentModel(weights, bias, thresholds);
    }

    private static ContentModel LoadEmbedded()
    {
        using var stream = typeof(ContentModel).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing; build Basalt.Guardrails from the repo");
        return Read(stream);
    }
}
