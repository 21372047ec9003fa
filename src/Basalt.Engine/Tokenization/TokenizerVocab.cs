namespace Basalt.Engine.Tokenization;

/// <summary>Everything a tokenizer is built from, as read from GGUF metadata (or made by hand in tests).
/// Null ids and flags mean "not stated": the family's defaults apply.</summary>
internal sealed record TokenizerVocab
{
    public required TokenizerKind Kind { get; init; }
    public required string[] Tokens { get; init; }
    public float[]? Scores { get; init; }
    public TokenType[]? Types { get; init; }
    /// <summary>BPE merges, "left right", in rank order.</summary>
    public string[]? Merges { get; init; }
    /// <summary>BPE pre-tokenizer name (tokenizer.ggml.pre).</summary>
    public string? Pre { get; init; }
    public int? BosId { get; init; }
    public int? EosId { get; init; }
    public int? UnknownId { get; init; }
    public int? PaddingId { get; init; }
    public int? SeparatorId { get; init; }
    public int? ClsId { get; init; }
    public int? EotId { get; init; }
    public int? EomId { get; init; }
    public bool? AddBos { get; init; }
    public bool? AddEos { get; init; }
    public bool? AddSpacePrefix { get; init; }
}
