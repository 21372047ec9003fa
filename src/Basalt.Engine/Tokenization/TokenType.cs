namespace Basalt.Engine.Tokenization;

/// <summary>Kind of a vocabulary entry, numbered as GGUF's tokenizer.ggml.token_type stores it.</summary>
public enum TokenType
{
    /// <summary>Not stated.</summary>
    Undefined = 0,
    /// <summary>An ordinary piece of text.</summary>
    Normal = 1,
    /// <summary>The unknown token.</summary>
    Unknown = 2,
    /// <summary>A control token (BOS, EOS, chat markers): never produced from plain text, decoded to nothing.</summary>
    Control = 3,
    /// <summary>A token added by the model author; matched in text before the tokenizer's own splitting.</summary>
    UserDefined = 4,
    /// <summary>Reserved and unused.</summary>
    Unused = 5,
    /// <summary>A raw byte, written "&lt;0xXX&gt;" (SentencePiece byte fallback).</summary>
    Byte = 6,
}

/// <summary>Tokenizer algorithm, from tokenizer.ggml.model.</summary>
public enum TokenizerKind
{
    /// <summary>"llama": SentencePiece-style score-based merges with byte fallback.</summary>
    SentencePiece,
    /// <summary>"gpt2": byte-level BPE with merge ranks and a regex pre-tokenizer.</summary>
    BytePair,
    /// <summary>"bert": WordPiece greedy longest match.</summary>
    WordPiece,
}
