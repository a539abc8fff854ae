namespace Paged.Models.Tokenization;

/// <summary>When decoding drops the leading space of a piece (the SentencePiece dummy prefix).</summary>
public enum LeadingSpaceRule
{
    /// <summary>Never (byte-level BPE: the space is part of the text).</summary>
    Keep,

    /// <summary>Only for the piece right after BOS (llama2.c's decoder).</summary>
    AfterBos,

    /// <summary>For the first decoded token (HF decoders Strip(start=1) and Metaspace with a prepend scheme).</summary>
    AtStart,
}
