namespace Paged.Models.Tokenization;

/// <summary>The llama2.c rules for turning one id into output bytes, shared by Decode and the streaming detokenizer.</summary>
internal static class PieceDecoding
{
    /// <summary>
    /// The bytes token <paramref name="id"/> contributes when it follows <paramref name="previousWasBos"/>:
    /// nothing for BOS/EOS/control pieces; a text piece right after BOS loses its leading space.
    /// </summary>
    public static ReadOnlySpan<byte> BytesFor(ITokenizer tokenizer, int id, bool previousWasBos)
    {
        if (id == tokenizer.BosId || id == tokenizer.EosId)
        {
            return [];
        }

        var bytes = tokenizer.PieceBytes(id);
        if (previousWasBos && bytes.Length > 0 && bytes[0] == (byte)' ' && tokenizer.PieceType(id) != TokenPieceType.Byte)
        {
            bytes = bytes[1..];
        }

        return bytes;
    }
}
