using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Paged.Models.Tokenization;

/// <summary>
/// SentencePiece BPE tokenizer (byte fallback, dummy prefix) over a (piece, score, type) vocabulary. Encoding is done by
/// Microsoft.ML.Tokenizers' LlamaTokenizer built from an in-memory ModelProto; decoding follows llama2.c.
/// </summary>
public sealed class SentencePieceTokenizer : PieceTableTokenizer, ITokenizer
{
    private readonly LlamaTokenizer _encoder;

    /// <param name="pieces">Pieces with spaces spelled U+2581; byte pieces as "&lt;0xNN&gt;".</param>
    /// <param name="source">The file the vocabulary came from, for error messages.</param>
    public SentencePieceTokenizer(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<TokenPieceType> types,
        int bosId, int eosId, int unkId, string source)
        : base(pieces?.Count ?? throw new ArgumentNullException(nameof(pieces)))
    {
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(types);
        ArgumentNullException.ThrowIfNull(source);
        if (scores.Count != pieces.Count || types.Count != pieces.Count)
        {
            throw ModelFormatException.For(source, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer has {pieces.Count} pieces but {scores.Count} scores and {types.Count} types"));
        }

        if (bosId < 0 || bosId >= pieces.Count || eosId < 0 || eosId >= pieces.Count || unkId < 0 || unkId >= pieces.Count)
        {
            throw ModelFormatException.For(source, string.Create(CultureInfo.InvariantCulture,
                $"tokenizer BOS {bosId}, EOS {eosId} or UNK {unkId} is outside its {pieces.Count} pieces"));
        }

        Source = source;
        BosId = bosId;
        EosId = eosId;
        UnknownId = unkId;
        BosToken = pieces[bosId];
        EosToken = pieces[eosId];
        var seen = new HashSet<string>(pieces.Count, StringComparer.Ordinal);
        for (int i = 0; i < pieces.Count; i++)
        {
            if (!seen.Add(pieces[i]))
            {
                throw ModelFormatException.For(source, $"tokenizer piece {i} (\"{pieces[i]}\") appears more than once");
            }

            SetPiece(i, ComputeBytes(source, i, pieces[i], types[i]), types[i]);
        }

        byte[] proto = SentencePieceModelProto.Build(pieces, scores, types, unkId, bosId, eosId);
        using var stream = new MemoryStream(proto, writable: false);
        _encoder = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
    }

    public string Source { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int UnknownId { get; }
    public bool AddsBos => true;
    public string? BosToken { get; }
    public string? EosToken { get; }

    /// <summary>Empty: llama2.c and GGUF "llama" vocabularies are encoded as plain text (control pieces are not matched in it).</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; } = new Dictionary<string, int>(StringComparer.Ordinal);
    public string? ChatTemplate { get; init; }
    public LeadingSpaceRule LeadingSpace => LeadingSpaceRule.AfterBos;

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            return addBos ? [BosId] : [];
        }

        return _encoder.EncodeToIds(text, addBeginningOfSentence: addBos, addEndOfSentence: false,
            considerPreTokenization: true, considerNormalization: true);
    }

    private static byte[] ComputeBytes(string source, int id, string piece, TokenPieceType type)
    {
        switch (type)
        {
            case TokenPieceType.Control or TokenPieceType.Unused:
                return [];
            case TokenPieceType.Byte:
                if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                    && byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                {
                    return [b];
                }

                throw ModelFormatException.For(source, $"tokenizer piece {id} (\"{piece}\") is a byte piece but not of the form <0xNN>");
            default:
                return Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
        }
    }
}
