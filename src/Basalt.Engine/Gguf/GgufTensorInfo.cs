namespace Basalt.Engine.Gguf;

/// <summary>One tensor's entry in a GGUF file: name, type, shape (ggml order: dimension 0 is the row length) and where its data lies.</summary>
public sealed class GgufTensorInfo
{
    internal GgufTensorInfo(string name, GgmlType type, long[] dimensions, long elementCount, long byteSize, long offset)
    {
        Name = name;
        Type = type;
        Dimensions = dimensions;
        ElementCount = elementCount;
        ByteSize = byteSize;
        Offset = offset;
    }

    /// <summary>The tensor's name, e.g. "blk.0.attn_q.weight".</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public GgmlType Type { get; }

    /// <summary>The shape in ggml order: Dimensions[0] is the innermost (contiguous) dimension.</summary>
    public IReadOnlyList<long> Dimensions { get; }

    /// <summary>Total number of elements.</summary>
    public long ElementCount { get; }

    /// <summary>Bytes of data.</summary>
    public long ByteSize { get; }

    /// <summary>Offset of the data from the start of the file's data section.</summary>
    public long Offset { get; }

    /// <summary>Elements per row (Dimensions[0]).</summary>
    public long RowLength => Dimensions[0];

    /// <summary>Number of rows (product of the outer dimensions).</summary>
    public long RowCount => RowLength == 0 ? 0 : ElementCount / RowLength;

    /// <summary>Bytes per row.</summary>
    public long RowBytes => GgmlTypes.RowSize(Type, RowLength);

    /// <summary>The shape written as ggml prints it, e.g. "[64, 512]".</summary>
    public string ShapeText => "[" + string.Join(", ", Dimensions) + "]";
}
