using Basalt.Engine.Gguf;

namespace Basalt.Engine.Models;

/// <summary>How rotary position embedding pairs the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (2i, 2i+1), as in Llama.</summary>
    Normal,
    /// <summary>Split halves (i, i + d/2), as in GPT-NeoX, Qwen, Phi-3 and Gemma.</summary>
    NeoX,
}

/// <summary>The feed-forward activation applied to the gate projection.</summary>
public enum FfnActivation
{
    /// <summary>SiLU (swish), giving SwiGLU.</summary>
    Silu,
    /// <summary>GELU, tanh approximation, giving GeGLU (Gemma).</summary>
    GeluTanh,
}

/// <summary>Hyper-parameters of a decoder-only transformer, read once from GGUF metadata.</summary>
public sealed record ModelConfig
{
    /// <summary>general.architecture, e.g. "llama".</summary>
    public required string Architecture { get; init; }
    /// <summary>Embedding width.</summary>
    public required int Dim { get; init; }
    /// <summary>Number of transformer blocks.</summary>
    public required int Layers { get; init; }
    /// <summary>Query heads.</summary>
    public required int Heads { get; init; }
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="Heads"/>).</summary>
    public required int KvHeads { get; init; }
    /// <summary>Width of one key (and query) head.</summary>
    public required int HeadDim { get; init; }
    /// <summary>Width of one value head.</summary>
    public required int ValueHeadDim { get; init; }
    /// <summary>Hidden width of the feed-forward network.</summary>
    public required int FfnDim { get; init; }
    /// <summary>Vocabulary size (rows of the embedding table).</summary>
    public required int VocabSize { get; init; }
    /// <summary>Context length the model was trained for.</summary>
    public required int ContextLength { get; init; }
    /// <summary>RMSNorm epsilon.</summary>
    public float NormEpsilon { get; init; } = 1e-5f;
    /// <summary>RoPE base frequency.</summary>
    public float RopeBase { get; init; } = 10000f;
    /// <summary>Dimensions of each head that are rotated (the rest pass through).</summary>
    public required int RopeDim { get; init; }
    /// <summary>How RoPE pairs dimensions.</summary>
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Normal;
    /// <summary>Linear RoPE scaling: positions are divided by this factor (1 = none).</summary>
    public float RopeLinearFactor { get; init; } = 1f;
    /// <summary>Llama 3 RoPE scaling, when the file asks for it.</summary>
    public Llama3RopeScaling? Llama3Rope { get; init; }
    /// <summary>The feed-forward activation.</summary>
    public FfnActivation Activation { get; init; } = FfnActivation.Silu;
    /// <summary>Factor applied to the token embedding (Gemma: sqrt(dim)); 1 for most models.</summary>
    public float EmbeddingScale { get; init; } = 1f;
    /// <summary>Scale of attention scores (default 1/sqrt(head dim)).</summary>
    public float AttentionScale { get; init; }
    /// <summary>tanh soft-capping of attention scores (Gemma 2), 0 = off.</summary>
    public float AttentionSoftcap { get; init; }
    /// <summary>tanh soft-capping of the final logits (Gemma 2), 0 = off.</summary>
    public float FinalLogitSoftcap { get; init; }
    /// <summary>Sliding attention window of local layers, 0 = every layer attends to the whole context.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Per layer: true when it uses the sliding window (null when none does).</summary>
    public bool[]? SlidingLayers { get; init; }
    /// <summary>RoPE base of sliding-window layers (Gemma 3 uses a different base locally), 0 = same as <see cref="RopeBase"/>.</summary>
    public float RopeBaseLocal { get; init; }

    /// <summary>Query projection width (heads * head dim).</summary>
    public int QDim => Heads * HeadDim;
    /// <summary>Key projection width.</summary>
    public int KDim => KvHeads * HeadDim;
    /// <summary>Value projection width.</summary>
    public int VDim => KvHeads * ValueHeadDim;

    /// <summary>Reads the hyper-parameters common to llama-like architectures; architecture files refine the result with <c>with</c>.</summary>
    internal static ModelConfig ReadCommon(GgufFile file)
    {
        var arch = file.Architecture;
        string K(string key) => GgufKeys.ForArch(key, arch);
        var dim = (int)file.GetUInt32(K(GgufKeys.EmbeddingLength));
        var heads = (int)file.GetUInt32(K(GgufKeys.HeadCount));
        var kvHeads = (int)file.GetUInt32(K(GgufKeys.HeadCountKv), (uint)heads);
        var headDim = (int)file.GetUInt32(K(GgufKeys.KeyLength), (uint)(dim / Math.Max(heads, 1)));
        var embd = file.GetTensor(GgufTensorNames.TokenEmbedding);
        var vocab = file.ContainsKey(K(GgufKeys.VocabSize)) ? (int)file.GetUInt32(K(GgufKeys.VocabSize)) : (int)embd.RowCount;
        var config = new ModelConfig
        {
            Architecture = arch,
            Dim = dim,
            Layers = (int)file.GetUInt32(K(GgufKeys.BlockCount)),
            Heads = heads,
            KvHeads = kvHeads,
            HeadDim = headDim,
            ValueHeadDim = (int)file.GetUInt32(K(GgufKeys.ValueLength), (uint)headDim),
            FfnDim = (int)file.GetUInt32(K(GgufKeys.FeedForwardLength)),
            VocabSize = vocab,
            ContextLength = (int)file.GetUInt32(K(GgufKeys.ContextLength), 2048),
            NormEpsilon = file.GetFloat32(K(GgufKeys.LayerNormRmsEpsilon), 1e-5f),
            RopeBase = file.GetFloat32(K(GgufKeys.RopeFreqBase), 10000f),
            RopeDim = (int)file.GetUInt32(K(GgufKeys.RopeDimensionCount), (uint)headDim),
        };
        var scaling = file.GetString(K(GgufKeys.RopeScalingType), null);
        var factor = file.GetFloat32(K(GgufKeys.RopeScalingFactor), 1f);
        if (scaling == "linear" && factor > 0)
            config = config with { RopeLinearFactor = factor };
        else if (scaling == "llama3")
            config = config with
            {
                Llama3Rope = new Llama3RopeScaling(
                    factor,
                    file.GetFloat32(K(RopeScalingLowFreqFactor), 1f),
                    file.GetFloat32(K(RopeScalingHighFreqFactor), 4f),
                    (int)file.GetUInt32(K(GgufKeys.RopeScalingOriginalContextLength), 8192)),
            };
        return config;
    }

    /// <summary>Llama 3 rope scaling keys (not among the keys every file uses).</summary>
    internal const string RopeScalingLowFreqFactor = "{arch}.rope.scaling.low_freq_factor";
    /// <summary>See <see cref="RopeScalingLowFreqFactor"/>.</summary>
    internal const string RopeScalingHighFreqFactor = "{arch}.rope.scaling.high_freq_factor";

    /// <summary>Throws a clear error when the shapes cannot work together.</summary>
    internal void Validate(string source)
    {
        if (Dim <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || HeadDim <= 0 || FfnDim <= 0 || VocabSize <= 0)
            throw new GgufFormatException(source, $"invalid model shape (dim {Dim}, layers {Layers}, heads {Heads}/{KvHeads}, head dim {HeadDim}, ffn {FfnDim}, vocab {VocabSize})");
        if (Heads % KvHeads != 0)
            throw new GgufFormatException(source, $"{Heads} query heads are not a multiple of {KvHeads} key/value heads");
        if (RopeDim > HeadDim || RopeDim % 2 != 0)
            throw new GgufFormatException(source, $"rope dimension {RopeDim} does not fit head dimension {HeadDim}");
    }
}

/// <summary>Llama 3.1 frequency-dependent RoPE scaling.</summary>
public sealed record Llama3RopeScaling(float Factor, float LowFreqFactor, float HighFreqFactor, int OriginalContextLength)
{
    /// <summary>The factor that divides base frequency <paramref name="freq"/>.</summary>
    public float Divisor(double freq)
    {
        var lowWavelen = OriginalContextLength / LowFreqFactor;
        var highWavelen = OriginalContextLength / HighFreqFactor;
        var wavelen = 2 * Math.PI / freq;
        if (wavelen < highWavelen)
            return 1f;
        if (wavelen > lowWavelen)
            return Factor;
        var smooth = (OriginalContextLength / wavelen - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
        // scaled = (1 - smooth) * freq / factor + smooth * freq, written as a divisor of freq.
        return (float)(1.0 / ((1 - smooth) / Factor + smooth));
    }
}
