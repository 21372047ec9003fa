using Basalt.Engine.Gguf;
using Basalt.Engine.Models;
using Basalt.Engine.Tensors;
using N = Basalt.Engine.Gguf.GgufTensorNames;

namespace Basalt.Engine.Training;

/// <summary>One parameter tensor inside <see cref="TrainableModel.Parameters"/>: its GGUF name, offset, and shape
/// (<paramref name="Rows"/> rows of <paramref name="Cols"/>; vectors have one row). <paramref name="Decay"/> says whether weight decay applies.</summary>
public sealed record ParameterTensor(string Name, int Offset, int Rows, int Cols, bool Decay)
{
    /// <summary>Elements of the tensor.</summary>
    public int Length => Rows * Cols;
}

/// <summary>Offsets of one block's tensors in the parameter array.</summary>
internal readonly record struct LayerOffsets(int AttnNorm, int Q, int K, int V, int O, int FfnNorm, int Gate, int Up, int Down);

/// <summary>A llama-architecture model held as F32 parameters in one array (embedding, blocks, final norm, output when untied),
/// with the tokenizer metadata its GGUF export carries.</summary>
public sealed class TrainableModel
{
    private readonly List<ParameterTensor> _tensors = [];
    private readonly List<KeyValuePair<string, GgufMetadataValue>> _vocabulary = [];

    private TrainableModel(TrainingShape shape)
    {
        shape.Validate();
        Shape = shape;
        int offset = 0;
        int Add(string name, int rows, int cols, bool decay)
        {
            var start = offset;
            _tensors.Add(new ParameterTensor(name, start, rows, cols, decay));
            offset = checked(offset + rows * cols);
            return start;
        }
        var s = shape;
        Embedding = Add(N.TokenEmbedding, s.VocabSize, s.Dim, true);
        Layers = new LayerOffsets[s.Layers];
        for (var l = 0; l < s.Layers; l++)
            Layers[l] = new LayerOffsets(
                Add(N.Block(l, N.AttnNorm), 1, s.Dim, false),
                Add(N.Block(l, N.AttnQ), s.QDim, s.Dim, true),
                Add(N.Block(l, N.AttnK), s.KvDim, s.Dim, true),
                Add(N.Block(l, N.AttnV), s.KvDim, s.Dim, true),
                Add(N.Block(l, N.AttnOutput), s.Dim, s.QDim, true),
                Add(N.Block(l, N.FfnNorm), 1, s.Dim, false),
                Add(N.Block(l, N.FfnGate), s.FfnDim, s.Dim, true),
                Add(N.Block(l, N.FfnUp), s.FfnDim, s.Dim, true),
                Add(N.Block(l, N.FfnDown), s.Dim, s.FfnDim, true));
        OutputNorm = Add(N.OutputNorm, 1, s.Dim, false);
        Output = s.Tied ? Embedding : Add(N.Output, s.VocabSize, s.Dim, true);
        Parameters = new float[offset];
    }

    /// <summary>The model's dimensions.</summary>
    public TrainingShape Shape { get; }
    /// <summary>Every parameter, tensor after tensor in <see cref="Tensors"/> order.</summary>
    public float[] Parameters { get; }
    /// <summary>The parameter tensors.</summary>
    public IReadOnlyList<ParameterTensor> Tensors => _tensors;
    /// <summary>Number of parameters (the tied output is counted once).</summary>
    public long ParameterCount => Parameters.Length;
    /// <summary>The tokenizer.* metadata (and chat template) the export writes; empty until set or read from a file.</summary>
    public IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> Vocabulary => _vocabulary;
    /// <summary>general.name of the export.</summary>
    public string Name { get; set; } = "basalt-trained";

    internal int Embedding { get; }
    internal LayerOffsets[] Layers { get; }
    internal int OutputNorm { get; }
    internal int Output { get; }

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    public ParameterTensor Tensor(string name)
    {
        foreach (var t in _tensors)
            if (t.Name == name)
                return t;
        throw new KeyNotFoundException($"The model has no tensor '{name}'.");
    }

    /// <summary>Replaces the tokenizer metadata the export writes (keys starting with "tokenizer.").</summary>
    public void SetVocabulary(IEnumerable<KeyValuePair<string, GgufMetadataValue>> entries)
    {
        _vocabulary.Clear();
        foreach (var e in entries)
        {
            if (!e.Key.StartsWith("tokenizer.", StringComparison.Ordinal))
                throw new ArgumentException($"Vocabulary metadata must be tokenizer.* keys; got '{e.Key}'.", nameof(entries));
            _vocabulary.Add(e);
        }
    }

    /// <summary>A model with seeded random weights: normal(0, 0.02) matrices, the residual projections scaled by 1/sqrt(2 layers), unit norms.</summary>
    public static TrainableModel CreateRandom(TrainingShape shape, int seed)
    {
        var model = new TrainableModel(shape);
        var rng = new Generation.Rng((ulong)seed);
        var residualScale = 1.0 / Math.Sqrt(2.0 * shape.Layers);
        foreach (var t in model._tensors)
        {
            var span = model.Parameters.AsSpan(t.Offset, t.Length);
            if (!t.Decay)
            {
                span.Fill(1f);
                continue;
            }
            var std = 0.02;
            if (t.Name.Contains("." + N.AttnOutput + ".", StringComparison.Ordinal) || t.Name.Contains("." + N.FfnDown + ".", StringComparison.Ordinal))
                std *= residualScale;
            for (var i = 0; i < span.Length; i++)
                span[i] = (float)(std * Gaussian(ref rng));
        }
        return model;
    }

    internal static double Gaussian(ref Generation.Rng rng)
    {
        // Box-Muller; 1 - u keeps the logarithm finite.
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Reads a llama-architecture GGUF (any tensor type the engine reads, dequantized to F32) with its tokenizer metadata.</summary>
    public static TrainableModel FromGguf(string path)
    {
        using var file = GgufFile.Open(path);
        return FromGguf(file);
    }

    internal static TrainableModel FromGguf(GgufFile file)
    {
        if (file.Architecture is not ("llama" or "mistral"))
            throw new GgufFormatException(file.Name, $"architecture '{file.Architecture}' cannot be trained; the trainer handles llama-architecture models");
        var c = ModelConfig.ReadCommon(file);
        c.Validate(file.Name);
        if (c.RopeLinearFactor != 1f || c.Llama3Rope is not null || file.TryGetTensor(N.RopeFreqs, out _))
            throw new GgufFormatException(file.Name, "the model uses RoPE scaling, which the trainer does not implement");
        if (c.HeadDim * c.Heads != c.Dim || c.ValueHeadDim != c.HeadDim || c.RopeDim != c.HeadDim)
            throw new GgufFormatException(file.Name, "the trainer needs head dim = dim / heads for queries, keys and values, all rotated");
        var tied = !file.TryGetTensor(N.Output, out _);
        var shape = new TrainingShape(c.Dim, c.Layers, c.Heads, c.KvHeads, c.FfnDim, c.VocabSize, c.ContextLength, tied)
        {
            RopeBase = c.RopeBase,
            NormEpsilon = c.NormEpsilon,
        };
        var model = new TrainableModel(shape) { Name = file.GetString(GgufKeys.Name, null) ?? "basalt-trained" };
        foreach (var t in model._tensors)
        {
            var info = file.GetTensor(t.Name);
            if (info.ElementCount != t.Length || info.RowLength != t.Cols)
                throw new GgufFormatException(file.Name, $"tensor '{t.Name}' has shape {info.ShapeText}, expected [{t.Cols}, {t.Rows}]");
            if (!TensorOps.IsSupported(info.Type))
                throw new GgufFormatException(file.Name, $"tensor '{t.Name}' has type {GgmlTypes.Name(info.Type)}, which the engine cannot read");
            for (var r = 0; r < t.Rows; r++)
                TensorOps.DequantizeRow(info.Type, file.TensorRow(info, r), model.Parameters.AsSpan(t.Offset + r * t.Cols, t.Cols));
        }
        foreach (var e in file.Metadata)
            if (e.Key.StartsWith("tokenizer.", StringComparison.Ordinal))
                model._vocabulary.Add(e);
        return model;
    }

    /// <summary>Writes the model as a llama GGUF the engine loads: matrices in <paramref name="type"/> (F32, F16 or Q8_0), norms in F32,
    /// the vocabulary metadata carried over; <paramref name="extraMetadata"/> adds general.* or training keys. Written atomically.</summary>
    public void ExportGguf(string path, GgmlType type = GgmlType.F16, IEnumerable<KeyValuePair<string, GgufMetadataValue>>? extraMetadata = null)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.Q8_0))
            throw new ArgumentException($"Export type must be F32, F16 or Q8_0; got {type}.", nameof(type));
        var w = BuildGguf(type, extraMetadata);
        WriteAtomically(w, path);
    }

    internal GgufWriter BuildGguf(GgmlType type, IEnumerable<KeyValuePair<string, GgufMetadataValue>>? extraMetadata)
    {
        var s = Shape;
        var w = new GgufWriter();
        const string arch = "llama";
        string K(string key) => GgufKeys.ForArch(key, arch);
        w.Add(GgufKeys.Architecture, arch);
        w.Add(GgufKeys.Name, Name);
        w.Add(K(GgufKeys.ContextLength), (uint)s.ContextLength);
        w.Add(K(GgufKeys.EmbeddingLength), (uint)s.Dim);
        w.Add(K(GgufKeys.BlockCount), (uint)s.Layers);
        w.Add(K(GgufKeys.FeedForwardLength), (uint)s.FfnDim);
        w.Add(K(GgufKeys.HeadCount), (uint)s.Heads);
        w.Add(K(GgufKeys.HeadCountKv), (uint)s.KvHeads);
        w.Add(K(GgufKeys.RopeDimensionCount), (uint)s.HeadDim);
        w.Add(K(GgufKeys.LayerNormRmsEpsilon), s.NormEpsilon);
        w.Add(K(GgufKeys.RopeFreqBase), s.RopeBase);
        w.Add(K(GgufKeys.VocabSize), (uint)s.VocabSize);
        foreach (var e in _vocabulary)
            w.Add(e.Key, e.Value);
        if (extraMetadata is not null)
            foreach (var e in extraMetadata)
                w.Add(e.Key, e.Value);
        foreach (var t in _tensors)
        {
            var values = Parameters.AsSpan(t.Offset, t.Length);
            var tensorType = t.Rows == 1 ? GgmlType.F32 : type;
            if (tensorType == GgmlType.Q8_0 && t.Cols % 32 != 0)
                tensorType = GgmlType.F16;
            long[] dims = t.Rows == 1 ? [t.Cols] : [t.Cols, t.Rows];
            w.AddTensor(t.Name, tensorType, dims, values);
        }
        return w;
    }

    internal static void WriteAtomically(GgufWriter w, string path)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        w.WriteTo(temp);
        File.Move(temp, full, overwrite: true);
    }
}
