using Basalt.Engine.Gguf;
using Basalt.Engine.Tensors;

namespace Basalt.Engine.Models;

/// <summary>A weight matrix bound in place to a tensor of the memory-mapped file: Rows rows of Cols elements, never copied.</summary>
internal readonly unsafe struct WeightMatrix
{
    public WeightMatrix(GgufFile file, GgufTensorInfo tensor)
    {
        Name = tensor.Name;
        Type = tensor.Type;
        Cols = checked((int)tensor.RowLength);
        Rows = checked((int)tensor.RowCount);
        RowBytes = tensor.RowBytes;
        Data = file.TensorPointer(tensor);
        if (!TensorOps.IsSupported(Type))
            throw new GgufFormatException(file.Name, $"tensor '{Name}' has type {GgmlTypes.Name(Type)}, which the local engine cannot compute with (supported: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K); re-quantize the model to one of these");
        Finite = Type == GgmlType.F16 && F16Kernels.AllFinite((ushort*)Data, (long)Rows * Cols);
    }

    public readonly string Name;
    public readonly GgmlType Type;
    public readonly int Rows;
    public readonly int Cols;
    public readonly long RowBytes;
    public readonly byte* Data;
    /// <summary>F16 only: no half of the matrix is an infinity or NaN (scanned once at load), so decoding skips the per-step check.</summary>
    public readonly bool Finite;

    /// <summary>The raw bytes of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<byte> Row(int row) => new(Data + row * RowBytes, (int)RowBytes);

    /// <summary>The raw bytes of rows [start, start + count), back to back (a tile of a batched matmul).</summary>
    public ReadOnlySpan<byte> RowRange(int start, int count) => new(Data + start * RowBytes, checked((int)(count * RowBytes)));

    /// <summary>A view of rows [start, start + count), used to split a fused tensor.</summary>
    public WeightMatrix Slice(int start, int count) => new(this, start, count);

    private WeightMatrix(WeightMatrix whole, int start, int count)
    {
        if (start < 0 || count < 0 || start + count > whole.Rows)
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start + count}) are outside '{whole.Name}' ({whole.Rows} rows)");
        Name = whole.Name;
        Type = whole.Type;
        Cols = whole.Cols;
        Rows = count;
        RowBytes = whole.RowBytes;
        Data = whole.Data + start * whole.RowBytes;
        Finite = whole.Finite;
    }

    /// <summary>Writes row <paramref name="row"/> as floats (embedding lookups).</summary>
    public void DequantizeRow(int row, Span<float> destination) => TensorOps.DequantizeRow(Type, Row(row), destination[..Cols]);
}

/// <summary>The tensors of one transformer block; optional ones are null when the architecture has none.</summary>
internal sealed class LayerWeights
{
    public required float[] AttnNorm { get; init; }
    public WeightMatrix Q { get; init; }
    public WeightMatrix K { get; init; }
    public WeightMatrix V { get; init; }
    /// <summary>Fused [q; k; v] projection (phi3); when set, Q/K/V are unused.</summary>
    public WeightMatrix? Qkv { get; init; }
    public float[]? QBias { get; init; }
    public float[]? KBias { get; init; }
    public float[]? VBias { get; init; }
    /// <summary>Per-head RMSNorm of queries and keys (qwen3, gemma3).</summary>
    public float[]? QNorm { get; init; }
    public float[]? KNorm { get; init; }
    public required WeightMatrix Output { get; init; }
    public float[]? PostAttnNorm { get; init; }
    public required float[] FfnNorm { get; init; }
    public WeightMatrix Gate { get; init; }
    public required WeightMatrix Up { get; init; }
    /// <summary>True when <see cref="Up"/> holds [gate; up] (phi3).</summary>
    public bool FusedGateUp { get; init; }
    public required WeightMatrix Down { get; init; }
    public float[]? PostFfnNorm { get; init; }
}

/// <summary>All weights of a model: embeddings, blocks, final norm and the output projection (the embedding when tied).</summary>
internal sealed class ModelWeights
{
    public required WeightMatrix TokenEmbedding { get; init; }
    public required LayerWeights[] Layers { get; init; }
    public required float[] OutputNorm { get; init; }
    public required WeightMatrix Output { get; init; }
    /// <summary>Llama 3 per-pair frequency divisors from rope_freqs.weight, when the file has them.</summary>
    public float[]? RopeFreqFactors { get; init; }

    /// <summary>Bytes of weight data the model reads.</summary>
    public long Bytes { get; init; }
}

/// <summary>Binds tensors by name, checking shapes, so architecture files stay declarative.</summary>
internal sealed class WeightBinder(GgufFile file)
{
    public GgufFile File => file;
    public long Bytes { get; private set; }

    public WeightMatrix Matrix(string name, int cols, int rows)
    {
        var t = file.GetTensor(name);
        if (t.RowLength != cols || t.RowCount != rows)
            throw new GgufFormatException(file.Name, $"tensor '{name}' has shape {t.ShapeText}, expected [{cols}, {rows}]");
        Bytes += t.ByteSize;
        return new WeightMatrix(file, t);
    }

    public WeightMatrix? OptionalMatrix(string name, int cols, int rows) =>
        file.TryGetTensor(name, out _) ? Matrix(name, cols, rows) : null;

    public float[] Vector(string name, int length)
    {
        var t = file.GetTensor(name);
        if (t.ElementCount != length)
            throw new GgufFormatException(file.Name, $"tensor '{name}' has shape {t.ShapeText}, expected {length} elements");
        if (!TensorOps.IsSupported(t.Type))
            throw new GgufFormatException(file.Name, $"tensor '{name}' has unsupported type {GgmlTypes.Name(t.Type)}");
        Bytes += t.ByteSize;
        var result = new float[length];
        TensorOps.DequantizeRow(t.Type, file.TensorData(t), result);
        return result;
    }

    public float[]? OptionalVector(string name, int length) =>
        file.TryGetTensor(name, out _) ? Vector(name, length) : null;
}
