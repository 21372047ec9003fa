using System.Runtime.InteropServices;
using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Models;

/// <summary>Element type of the keys and values a KV cache holds.</summary>
public enum KvCacheType
{
    /// <summary>32-bit floats: exact, 4 bytes per element.</summary>
    F32,
    /// <summary>IEEE halves (the default, as llama.cpp): 2 bytes per element.</summary>
    F16,
    /// <summary>Q8_0 blocks of 32 (34 bytes per 32 elements); needs head dimensions that are multiples of 32, else F16 is used.</summary>
    Q8_0,
}

/// <summary>One sequence's keys and values for <see cref="ContextLength"/> positions, per layer, allocated up front.
/// Rows are position-major: position p of layer l holds KDim keys (and VDim values) encoded as <see cref="Type"/>.</summary>
internal sealed class KvCache
{
    public KvCache(ModelConfig c, int contextLength, KvCacheType type = KvCacheType.F16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1);
        // Q8_0 blocks must not straddle heads: each head's slice of a row is dotted on its own.
        if (type == KvCacheType.Q8_0 && (c.HeadDim % Q8_0Block.Size != 0 || c.ValueHeadDim % Q8_0Block.Size != 0))
            type = KvCacheType.F16;
        Type = type;
        ContextLength = contextLength;
        Layers = c.Layers;
        KeyRowBytes = RowBytes(type, c.KDim);
        ValueRowBytes = RowBytes(type, c.VDim);
        if ((long)contextLength * Math.Max(KeyRowBytes, ValueRowBytes) > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(contextLength), $"A KV cache of {contextLength} positions does not fit one array per layer; use a shorter context.");
        Keys = new byte[c.Layers][];
        Values = new byte[c.Layers][];
        for (var l = 0; l < c.Layers; l++)
        {
            Keys[l] = new byte[contextLength * KeyRowBytes];
            Values[l] = new byte[contextLength * ValueRowBytes];
        }
    }

    /// <summary>Positions the cache holds.</summary>
    public int ContextLength { get; }
    /// <summary>Element type of keys and values.</summary>
    public KvCacheType Type { get; }
    public int Layers { get; }
    /// <summary>Bytes of one position's keys in one layer.</summary>
    public int KeyRowBytes { get; }
    /// <summary>Bytes of one position's values in one layer.</summary>
    public int ValueRowBytes { get; }
    /// <summary>Per layer: position-major key rows.</summary>
    public readonly byte[][] Keys;
    /// <summary>Per layer: position-major value rows.</summary>
    public readonly byte[][] Values;

    /// <summary>Bytes held.</summary>
    public long Bytes => (long)Layers * ContextLength * (KeyRowBytes + ValueRowBytes);

    /// <summary>Bytes one element type takes for <paramref name="n"/> elements.</summary>
    public static int RowBytes(KvCacheType type, int n) => type switch
    {
        KvCacheType.F32 => 4 * n,
        KvCacheType.F16 => 2 * n,
        _ => n / Q8_0Block.Size * Q8_0Block.Bytes,
    };

    /// <summary>Encodes <paramref name="keys"/> and <paramref name="values"/> (floats) at <paramref name="position"/> of <paramref name="layer"/>.</summary>
    public void Write(int layer, int position, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        Encode(keys, Keys[layer].AsSpan(position * KeyRowBytes, KeyRowBytes));
        Encode(values, Values[layer].AsSpan(position * ValueRowBytes, ValueRowBytes));
    }

    private void Encode(ReadOnlySpan<float> src, Span<byte> dst)
    {
        switch (Type)
        {
            case KvCacheType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case KvCacheType.F16: TensorOps.QuantizeRow(GgmlType.F16, src, dst); break;
            default: TensorOps.QuantizeRow(GgmlType.Q8_0, src, dst); break;
        }
    }

    /// <summary>Copies <paramref name="count"/> positions from <paramref name="sourceStart"/> into <paramref name="destination"/> at
    /// <paramref name="destinationStart"/>, every layer (the prefix cache hands a stored prefix to a new sequence this way).
    /// Both caches must belong to the same model and have the same type.</summary>
    public void CopyTo(int sourceStart, KvCache destination, int destinationStart, int count)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Type != Type || destination.Layers != Layers || destination.KeyRowBytes != KeyRowBytes || destination.ValueRowBytes != ValueRowBytes)
            throw new ArgumentException($"Cannot copy a {Type} cache into a {destination.Type} cache of another shape; both must belong to the same model and type.", nameof(destination));
        if (count < 0 || sourceStart < 0 || destinationStart < 0 || sourceStart + count > ContextLength || destinationStart + count > destination.ContextLength)
            throw new ArgumentOutOfRangeException(nameof(count), $"Positions [{sourceStart}, {sourceStart + count}) -> [{destinationStart}, {destinationStart + count}) are outside the caches ({ContextLength} and {destination.ContextLength} positions).");
        for (var l = 0; l < Layers; l++)
        {
            Keys[l].AsSpan(sourceStart * KeyRowBytes, count * KeyRowBytes).CopyTo(destination.Keys[l].AsSpan(destinationStart * KeyRowBytes));
            Values[l].AsSpan(sourceStart * ValueRowBytes, count * ValueRowBytes).CopyTo(destination.Values[l].AsSpan(destinationStart * ValueRowBytes));
        }
    }
}

/// <summary>One token of a batched forward pass: which sequence's cache it extends, at which position, and the logits row it fills
/// (-1 when no logits are wanted, as for every prompt token but the last).</summary>
internal readonly record struct BatchToken(KvCache Cache, int Token, int Position, int LogitsRow);

/// <summary>Activation matrices of a batched forward pass for up to <see cref="MaxTokens"/> tokens, allocated once; the forward pass
/// writes only into these. Row j of each matrix belongs to token j of the batch.</summary>
internal sealed class BatchState
{
    /// <summary>Allocates for batches of up to <paramref name="maxBatchTokens"/> tokens over caches of up to <paramref name="maxContext"/> positions,
    /// with <paramref name="logitsRows"/> rows of logits (default: one per batch token).</summary>
    public BatchState(ModelConfig c, int maxBatchTokens, int maxContext, int logitsRows = -1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxContext, 1);
        var t = maxBatchTokens;
        MaxTokens = t;
        MaxContext = maxContext;
        LogitsRows = logitsRows < 0 ? t : logitsRows;
        VocabSize = c.VocabSize;
        AttnWidth = c.Heads * c.ValueHeadDim;
        X = new float[t * c.Dim];
        Xn = new float[t * c.Dim];
        Proj = new float[t * c.Dim];
        Q = new float[t * c.QDim];
        K = new float[t * c.KDim];
        V = new float[t * c.VDim];
        Qkv = new float[t * (c.QDim + c.KDim + c.VDim)];
        Att = new float[t * AttnWidth];
        Hb = new float[t * c.FfnDim];
        Hb2 = new float[t * c.FfnDim];
        LogitsBuffer = new float[(long)LogitsRows * c.VocabSize <= Array.MaxLength ? LogitsRows * c.VocabSize : throw new ArgumentOutOfRangeException(nameof(logitsRows))];
        var pairs = c.RopeDim / 2;
        RopeCos = new float[t * pairs];
        RopeSin = new float[t * pairs];
        RopeCosLocal = new float[t * pairs];
        RopeSinLocal = new float[t * pairs];
        LogitsTokens = new int[t];
        Caches = new KvCache[t];
        Positions = new int[t];
        MatMul = new MatMulJob(t, Math.Max(Math.Max(c.Dim, c.FfnDim), AttnWidth));
        Attention = new BatchAttentionJob(c, this);
    }

    /// <summary>Most tokens one forward pass takes.</summary>
    public int MaxTokens { get; }
    /// <summary>Most positions a cache of this batch may hold.</summary>
    public int MaxContext { get; }
    /// <summary>Rows of logits available.</summary>
    public int LogitsRows { get; }
    /// <summary>Use float activations against decoded weights (exact up to rounding; tests check the forward logic with it).</summary>
    public bool ExactActivations { get => MatMul.ExactActivations; init => MatMul.ExactActivations = value; }

    internal int VocabSize { get; }
    internal int AttnWidth { get; }
    /// <summary>Residual stream, [T x Dim].</summary>
    internal readonly float[] X;
    /// <summary>Normed residual, input of the projections, [T x Dim].</summary>
    internal readonly float[] Xn;
    /// <summary>Output of the attention-output and down projections, [T x Dim].</summary>
    internal readonly float[] Proj;
    internal readonly float[] Q, K, V;
    /// <summary>Output of a fused QKV projection before it is split.</summary>
    internal readonly float[] Qkv;
    /// <summary>Attention output, [T x Heads * ValueHeadDim].</summary>
    internal readonly float[] Att;
    internal readonly float[] Hb, Hb2;
    internal readonly float[] LogitsBuffer;
    internal readonly float[] RopeCos, RopeSin, RopeCosLocal, RopeSinLocal;
    /// <summary>Cache and position of each batch token (the attention job reads them).</summary>
    internal readonly KvCache[] Caches;
    internal readonly int[] Positions;
    /// <summary>Batch index of each token that wants logits, in order; then, during the output projection, its logits row.</summary>
    internal readonly int[] LogitsTokens;
    internal MatMulJob MatMul { get; }
    internal BatchAttentionJob Attention { get; }

    /// <summary>The logits row <paramref name="row"/> (a <see cref="BatchToken.LogitsRow"/>) of the last forward pass.</summary>
    public Span<float> Logits(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, LogitsRows);
        return LogitsBuffer.AsSpan(row * VocabSize, VocabSize);
    }
}
