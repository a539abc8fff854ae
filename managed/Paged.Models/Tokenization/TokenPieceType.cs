namespace Paged.Models.Tokenization;

/// <summary>SentencePiece piece types (same numbering as SentencePiece's ModelProto and GGUF's tokenizer.ggml.token_type).</summary>
public enum TokenPieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
