namespace Basalt.Engine.Store;

/// <summary>One model registered in the store's index: where it came from, where it lives, and what its GGUF header says.</summary>
public sealed record StoredModel
{
    /// <summary>Registered name: OWNER/REPO:FILE for pulled models, or a short alias.</summary>
    public required string Name { get; init; }

    /// <summary>URL the file was downloaded from (empty for a model added from a local file).</summary>
    public string Source { get; init; } = "";

    /// <summary>Absolute path of the .gguf file.</summary>
    public required string Path { get; init; }

    /// <summary>File size in bytes.</summary>
    public long Size { get; init; }

    /// <summary>Lower-case hex sha256 of the file.</summary>
    public string Sha256 { get; init; } = "";

    /// <summary>When the model was pulled (UTC).</summary>
    public DateTimeOffset PulledAt { get; init; }

    /// <summary>general.architecture from the header (llama, qwen2, ...).</summary>
    public string Architecture { get; init; } = "";

    /// <summary>Total number of tensor elements.</summary>
    public long Parameters { get; init; }

    /// <summary>Quantization name (Q4_K_M, F16, ...) from general.file_type, else the dominant tensor type.</summary>
    public string Quantization { get; init; } = "";
}
