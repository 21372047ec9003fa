namespace Basalt.Engine.Gguf;

/// <summary>Tensor element types as numbered in the GGUF format (ggml's ggml_type).</summary>
public enum GgmlType : uint
{
    /// <summary>32-bit float.</summary>
    F32 = 0,
    /// <summary>IEEE half.</summary>
    F16 = 1,
    /// <summary>32 weights: half scale, 16 bytes of 4-bit values offset by 8.</summary>
    Q4_0 = 2,
    /// <summary>32 weights: half scale and min, 4-bit values.</summary>
    Q4_1 = 3,
    /// <summary>32 weights: 5-bit values, one scale.</summary>
    Q5_0 = 6,
    /// <summary>32 weights: 5-bit values, scale and min.</summary>
    Q5_1 = 7,
    /// <summary>32 weights: half scale, 32 signed bytes.</summary>
    Q8_0 = 8,
    /// <summary>32 weights: scale, sum, 32 signed bytes.</summary>
    Q8_1 = 9,
    /// <summary>K-quant, 2 bits.</summary>
    Q2_K = 10,
    /// <summary>K-quant, 3 bits.</summary>
    Q3_K = 11,
    /// <summary>K-quant, 4 bits: 256-weight super-blocks of eight 32-weight sub-blocks with 6-bit scales and mins.</summary>
    Q4_K = 12,
    /// <summary>K-quant, 5 bits: like Q4_K plus one high bit per weight.</summary>
    Q5_K = 13,
    /// <summary>K-quant, 6 bits: sixteen 16-weight sub-blocks with 8-bit scales.</summary>
    Q6_K = 14,
    /// <summary>K-quant activations: float scale, 256 signed bytes, sums of each 16.</summary>
    Q8_K = 15,
    /// <summary>I-quant.</summary>
    IQ2_XXS = 16,
    /// <summary>I-quant.</summary>
    IQ2_XS = 17,
    /// <summary>I-quant.</summary>
    IQ3_XXS = 18,
    /// <summary>I-quant.</summary>
    IQ1_S = 19,
    /// <summary>I-quant.</summary>
    IQ4_NL = 20,
    /// <summary>I-quant.</summary>
    IQ3_S = 21,
    /// <summary>I-quant.</summary>
    IQ2_S = 22,
    /// <summary>I-quant.</summary>
    IQ4_XS = 23,
    /// <summary>8-bit integer.</summary>
    I8 = 24,
    /// <summary>16-bit integer.</summary>
    I16 = 25,
    /// <summary>32-bit integer.</summary>
    I32 = 26,
    /// <summary>64-bit integer.</summary>
    I64 = 27,
    /// <summary>64-bit float.</summary>
    F64 = 28,
    /// <summary>I-quant.</summary>
    IQ1_M = 29,
    /// <summary>bfloat16: the top half of a float32.</summary>
    BF16 = 30,
    /// <summary>Ternary quant.</summary>
    TQ1_0 = 34,
    /// <summary>Ternary quant.</summary>
    TQ2_0 = 35,
    /// <summary>Microscaling FP4.</summary>
    MXFP4 = 39,
}

/// <summary>Block geometry of every tensor type the format defines: weights per block and bytes per block.
/// The reader knows all of them (so it can size and list any file); Basalt.Engine.Tensors.TensorOps computes with a subset.</summary>
public static class GgmlTypes
{
    /// <summary>Weights per block for K-quants (ggml's QK_K).</summary>
    public const int SuperBlock = 256;

    /// <summary>Weights per block for the 32-weight legacy quants (ggml's QK4_0 / QK8_0).</summary>
    public const int LegacyBlock = 32;

    /// <summary>True when the type id is one this format defines.</summary>
    public static bool IsDefined(uint id) => Layout((GgmlType)id).BlockBytes != 0;

    /// <summary>Weights per block of the type (1 for plain floats and ints).</summary>
    public static int BlockSize(GgmlType type) => Layout(type).BlockSize;

    /// <summary>Bytes per block of the type.</summary>
    public static int BlockBytes(GgmlType type) => Layout(type).BlockBytes;

    /// <summary>Bytes a row of <paramref name="n"/> weights takes; <paramref name="n"/> must be a multiple of the block size.</summary>
    public static long RowSize(GgmlType type, long n)
    {
        var (bs, bb) = Layout(type);
        if (bb == 0)
            throw new ArgumentOutOfRangeException(nameof(type), $"Unknown tensor type {(uint)type}.");
        if (n < 0 || n % bs != 0)
            throw new ArgumentException($"A {type} row needs a multiple of {bs} weights; got {n}.", nameof(n));
        return checked(n / bs * bb);
    }

    /// <summary>Name as ggml prints it (e.g. "Q4_K"), or "type N" for an unknown id.</summary>
    public static string Name(GgmlType type) => IsDefined((uint)type) ? type.ToString() : $"type {(uint)type}";

    // (weights per block, bytes per block); zero bytes marks an id the format does not define.
    private static (int BlockSize, int BlockBytes) Layout(GgmlType type) => type switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 => (1, 2),
        GgmlType.BF16 => (1, 2),
        GgmlType.F64 => (1, 8),
        GgmlType.I8 => (1, 1),
        GgmlType.I16 => (1, 2),
        GgmlType.I32 => (1, 4),
        GgmlType.I64 => (1, 8),
        GgmlType.Q4_0 => (32, 2 + 16),
        GgmlType.Q4_1 => (32, 2 + 2 + 16),
        GgmlType.Q5_0 => (32, 2 + 4 + 16),
        GgmlType.Q5_1 => (32, 2 + 2 + 4 + 16),
        GgmlType.Q8_0 => (32, 2 + 32),
        GgmlType.Q8_1 => (32, 4 + 4 + 32),
        GgmlType.Q2_K => (256, 16 + 64 + 2 + 2),
        GgmlType.Q3_K => (256, 32 + 64 + 12 + 2),
        GgmlType.Q4_K => (256, 2 + 2 + 12 + 128),
        GgmlType.Q5_K => (256, 2 + 2 + 12 + 32 + 128),
        GgmlType.Q6_K => (256, 128 + 64 + 16 + 2),
        GgmlType.Q8_K => (256, 4 + 256 + 32),
        GgmlType.IQ2_XXS => (256, 2 + 64),
        GgmlType.IQ2_XS => (256, 2 + 64 + 8),
        GgmlType.IQ3_XXS => (256, 2 + 96),
        GgmlType.IQ1_S => (256, 2 + 32 + 16),
        GgmlType.IQ4_NL => (32, 2 + 16),
        GgmlType.IQ3_S => (256, 2 + 64 + 8 + 32 + 4),
        GgmlType.IQ2_S => (256, 2 + 64 + 16),
        GgmlType.IQ4_XS => (256, 2 + 2 + 4 + 128),
        GgmlType.IQ1_M => (256, 32 + 16 + 8),
        GgmlType.TQ1_0 => (256, 48 + 4 + 2),
        GgmlType.TQ2_0 => (256, 64 + 2),
        GgmlType.MXFP4 => (32, 1 + 16),
        _ => (0, 0),
    };
}
