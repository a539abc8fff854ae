namespace Paged.Models.Tokenization;

/// <summary>What every tokenizer here shares: a table of each token's bytes and type, and decoding through it.</summary>
public abstract class PieceTableTokenizer
{
    private readonly byte[][] _pieceBytes;
    private readonly TokenPieceType[] _types;

    /// <summary>Allocates the table for <paramref name="count"/> tokens (empty bytes, type Unused) for the derived class to fill.</summary>
    private protected PieceTableTokenizer(int count)
    {
        _pieceBytes = new byte[count][];
        _types = new TokenPieceType[count];
        Array.Fill(_pieceBytes, []);
        Array.Fill(_types, TokenPieceType.Unused);
    }

    private protected void SetPiece(int id, byte[] bytes, TokenPieceType type) => (_pieceBytes[id], _types[id]) = (bytes, type);

    public int VocabSize => _pieceBytes.Length;

    public string Decode(IEnumerable<int> ids) => PieceDecoding.Decode((ITokenizer)this, ids, skipSpecialTokens: true);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens) => PieceDecoding.Decode((ITokenizer)this, ids, skipSpecialTokens);

    public ReadOnlySpan<byte> PieceBytes(int id) => _pieceBytes[CheckId(id)];

    public TokenPieceType PieceType(int id) => _types[CheckId(id)];

    private int CheckId(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, _pieceBytes.Length);
        return id;
    }
}
