namespace Basalt.Engine.Models;

/// <summary>Activation buffers of one sequence, allocated once; the forward pass writes only into these.</summary>
internal sealed class RunState
{
    public RunState(ModelConfig c, int contextLength)
    {
        var wide = Math.Max(c.Dim, Math.Max(c.QDim, c.Heads * c.ValueHeadDim));
        X = new float[c.Dim];
        Xb = new float[wide];
        Xb2 = new float[c.Dim];
        Q = new float[c.QDim];
        K = new float[c.KDim];
        V = new float[c.VDim];
        Qkv = new float[c.QDim + c.KDim + c.VDim];
        Hb = new float[2 * c.FfnDim];
        Hb2 = new float[c.FfnDim];
        Scores = new float[c.Heads * contextLength];
        Logits = new float[c.VocabSize];
        var pairs = c.RopeDim / 2;
        RopeCos = new float[pairs];
        RopeSin = new float[pairs];
        RopeCosLocal = new float[pairs];
        RopeSinLocal = new float[pairs];
    }

    /// <summary>The residual stream.</summary>
    public readonly float[] X;
    public readonly float[] Xb;
    public readonly float[] Xb2;
    public readonly float[] Q;
    public readonly float[] K;
    public readonly float[] V;
    /// <summary>Output of a fused QKV projection before it is split.</summary>
    public readonly float[] Qkv;
    public readonly float[] Hb;
    public readonly float[] Hb2;
    /// <summary>Attention scores, one context-length row per head.</summary>
    public readonly float[] Scores;
    public readonly float[] Logits;
    public readonly float[] RopeCos;
    public readonly float[] RopeSin;
    public readonly float[] RopeCosLocal;
    public readonly float[] RopeSinLocal;
}

/// <summary>Keys and values of every past position, per layer, allocated up front for the whole context.</summary>
internal sealed class KvCache
{
    public KvCache(ModelConfig c, int contextLength)
    {
        ContextLength = contextLength;
        Keys = new float[c.Layers][];
        Values = new float[c.Layers][];
        for (var l = 0; l < c.Layers; l++)
        {
            Keys[l] = new float[(long)contextLength * c.KDim <= Array.MaxLength ? contextLength * c.KDim : throw new ArgumentOutOfRangeException(nameof(contextLength))];
            Values[l] = new float[contextLength * c.VDim];
        }
    }

    public int ContextLength { get; }
    /// <summary>Per layer: position-major keys, KDim floats per position.</summary>
    public readonly float[][] Keys;
    /// <summary>Per layer: position-major values, VDim floats per position.</summary>
    public readonly float[][] Values;

    /// <summary>Bytes held.</summary>
    public long Bytes => 4L * ContextLength * (Keys.Length == 0 ? 0 : Keys[0].Length / ContextLength + Values[0].Length / ContextLength) * Keys.Length;
}
