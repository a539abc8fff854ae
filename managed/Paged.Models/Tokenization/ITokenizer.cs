namespace Paged.Models.Tokenization;

/// <summary>A SentencePiece-style tokenizer with llama2.c decoding conventions.</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    int BosId { get; }
    int EosId { get; }

    /// <summary>Encodes text: optional BOS, then (for non-empty text) the dummy-prefix space and BPE merges.</summary>
    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>
    /// Decodes ids: BOS, EOS and other control pieces produce nothing, the leading space of the first piece after BOS is
    /// dropped, byte pieces &lt;0xNN&gt; become raw bytes, and the bytes are decoded as UTF-8 (invalid bytes become U+FFFD).
    /// </summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>The bytes a piece stands for (U+2581 as a space, a byte piece as its byte, control pieces empty).</summary>
    ReadOnlySpan<byte> PieceBytes(int id);

    TokenPieceType PieceType(int id);
}
