namespace Basalt.Engine.Gguf;

/// <summary>Limits the reader enforces on hostile files, on top of every size being checked against the file length.</summary>
public static class GgufLimits
{
    /// <summary>Most tensors a file may declare (the largest real models hold a few thousand).</summary>
    public const long MaxTensorCount = 1 << 20;

    /// <summary>Most metadata entries a file may declare.</summary>
    public const long MaxMetadataCount = 1 << 20;

    /// <summary>Longest metadata key or tensor name, in bytes (ggml's GGML_MAX_NAME is 64; keys are longer but short).</summary>
    public const int MaxKeyLength = 1 << 16;

    /// <summary>Longest string value, in bytes (chat templates run to tens of kilobytes).</summary>
    public const long MaxStringLength = 64L << 20;

    /// <summary>Most elements in one metadata array (vocabularies and merge lists reach a few hundred thousand).</summary>
    public const long MaxArrayLength = 1L << 26;

    /// <summary>Deepest nesting of arrays inside arrays.</summary>
    public const int MaxArrayDepth = 8;

    /// <summary>Most dimensions of a tensor (ggml's GGML_MAX_DIMS).</summary>
    public const int MaxDimensions = 4;

    /// <summary>Largest general.alignment accepted; it must also be a power of two.</summary>
    public const uint MaxAlignment = 1 << 16;

    /// <summary>Alignment of the data section and tensors when general.alignment is absent.</summary>
    public const uint DefaultAlignment = 32;

    /// <summary>Smallest possible file: magic, version, tensor count and metadata count.</summary>
    public const int HeaderBytes = 4 + 4 + 8 + 8;
}
