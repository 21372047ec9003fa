using Basalt.Engine.Gguf;

namespace Basalt.Engine.Store;

/// <summary>What the store records from a GGUF header: architecture, parameter count and quantization.</summary>
internal static class GgufSummary
{
    /// <summary>llama.cpp's llama_ftype values (general.file_type) by name; the gaps are retired types.</summary>
    private static readonly Dictionary<uint, string> FileTypes = new()
    {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0", [9] = "Q5_1",
        [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L", [14] = "Q4_K_S", [15] = "Q4_K_M",
        [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K", [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S",
        [22] = "IQ3_XS", [23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S", [27] = "IQ3_M",
        [28] = "IQ2_S", [29] = "IQ2_M", [30] = "IQ4_XS", [31] = "IQ1_M", [32] = "BF16",
        [36] = "TQ1_0", [37] = "TQ2_0",
    };

    /// <summary>Reads the header of <paramref name="file"/> into architecture, parameters and quantization.</summary>
    public static (string Architecture, long Parameters, string Quantization) Read(GgufFile file)
    {
        var arch = file.GetString(GgufKeys.Architecture, null) ?? "";
        long parameters = 0;
        var bytesByType = new Dictionary<GgmlType, long>();
        foreach (var t in file.Tensors)
        {
            parameters += t.ElementCount;
            bytesByType.TryGetValue(t.Type, out var b);
            bytesByType[t.Type] = b + t.ByteSize;
        }
        string quant;
        if (file.ContainsKey(GgufKeys.FileType) && FileTypes.TryGetValue(file.GetUInt32(GgufKeys.FileType), out var named))
            quant = named;
        else
        {
            // No (or an unknown) file_type: name the type holding the most bytes.
            var best = (Type: (GgmlType?)null, Bytes: -1L);
            foreach (var (type, bytes) in bytesByType)
                if (bytes > best.Bytes) best = (type, bytes);
            quant = best.Type is { } bt ? GgmlTypes.Name(bt) : "";
        }
        return (arch, parameters, quant);
    }
}
