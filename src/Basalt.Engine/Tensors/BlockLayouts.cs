namespace Basalt.Engine.Tensors;

// Byte layouts of the quantized blocks, defined once (the same layouts as ggml's ggml-common.h; halves are IEEE fp16, little-endian).

/// <summary>Q8_0: half d, then 32 signed bytes; x = d * q.</summary>
internal static class Q8_0Block
{
    public const int Size = 32;
    public const int Bytes = 34;
    public const int D = 0;
    public const int Qs = 2;
}

/// <summary>Q4_0: half d, then 16 bytes; byte j holds element j (low nibble) and j+16 (high nibble); x = d * (q - 8).</summary>
internal static class Q4_0Block
{
    public const int Size = 32;
    public const int Bytes = 18;
    public const int D = 0;
    public const int Qs = 2;
}

/// <summary>Q5_0: half d, 32 bits qh, 16 bytes qs; element j (j &lt; 16) is the low nibble of qs[j], element j+16 its high nibble, and bit e of qh
/// is element e's fifth bit; x = d * (q - 16).</summary>
internal static class Q5_0Block
{
    public const int Size = 32;
    public const int Bytes = 22;
    public const int D = 0;
    public const int Qh = 2;
    public const int Qs = 6;
}

/// <summary>Q5_1: half d, half m, then qh and qs as in Q5_0; x = d * q + m.</summary>
internal static class Q5_1Block
{
    public const int Size = 32;
    public const int Bytes = 24;
    public const int D = 0;
    public const int M = 2;
    public const int Qh = 4;
    public const int Qs = 8;
}

/// <summary>Q4_K: half d, half dmin, 12 bytes of eight 6-bit scales and mins, 128 bytes of nibbles.
/// Element 64c+l (l &lt; 32) is the low nibble of qs[32c+l] in sub-block 2c; element 64c+32+l is its high nibble in sub-block 2c+1.
/// x = d * scale[s] * q - dmin * min[s].</summary>
internal static class Q4KBlock
{
    public const int Size = 256;
    public const int Bytes = 144;
    public const int D = 0;
    public const int DMin = 2;
    public const int Scales = 4;
    public const int ScaleBytes = 12;
    public const int Qs = 16;
    public const int SubBlocks = 8;
    public const int SubBlockSize = 32;
}

/// <summary>Q5_K: like Q4_K with a 32-byte qh after the scales: bit 2c of qh[l] is the fifth bit of element 64c+l, bit 2c+1 that of 64c+32+l.</summary>
internal static class Q5KBlock
{
    public const int Size = 256;
    public const int Bytes = 176;
    public const int D = 0;
    public const int DMin = 2;
    public const int Scales = 4;
    public const int Qh = 16;
    public const int Qs = 48;
}

/// <summary>Q6_K: 128 bytes of low nibbles (ql), 64 bytes of high 2-bit pairs (qh), 16 signed scales, half d.
/// For half n (128 elements) and l &lt; 32: element 128n+32k+l takes ql[64n+l] (k=0 low, k=2 high nibble) or ql[64n+32+l] (k=1 low, k=3 high),
/// and bits 2k..2k+1 of qh[32n+l]; its scale is scales[e/16]; x = d * scale * (q - 32).</summary>
internal static class Q6KBlock
{
    public const int Size = 256;
    public const int Bytes = 210;
    public const int Ql = 0;
    public const int Qh = 128;
    public const int Scales = 192;
    public const int D = 208;
    public const int SubBlockSize = 16;
}

/// <summary>Q8_K (activations for the K-quant dot kernels, never stored in files): float d, 256 signed bytes, sixteen int16 sums of each 16 bytes.</summary>
internal static class Q8KBlock
{
    public const int Size = 256;
    public const int Bytes = 292;
    public const int D = 0;
    public const int Qs = 4;
    public const int BSums = 260;
}
