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
    private readonly AddedTokenMatcher? _specialMatcher;

    /// <param name="pieces">Pieces with spaces spelled U+2581; byte pieces as "&lt;0xNN&gt;".</param>
    /// <param name="source">The file the vocabulary came from, for error messages.</param>
    public SentencePieceTokenizer(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<TokenPieceType> types,
        int bosId, int eosId, int unkId, string source)
        : this(pieces, scores, types, bosId, eosId, unkId, source, matchSpecialPieces: false)
    {
    }

    /// <param name="matchSpecialPieces">
    /// Match control, user-defined and unknown pieces in the text first, as llama.cpp (parse_special) and HF do; each text
    /// run after one gets its own dummy-prefix space. False for llama2.c vocabularies, whose prompts are plain text.
    /// </param>
    public SentencePieceTokenizer(IReadOnlyList<string> pieces, IReadOnlyList<float> scores, IReadOnlyList<TokenPieceType> types,
        int bosId, int eosId, int unkId, string source, bool matchSpecialPieces)
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
        Pieces = [.. pieces];
        Scores = [.. scores];
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

        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        if (matchSpecialPieces)
        {
            var added = new List<AddedToken>();
            for (int i = 0; i < pieces.Count; i++)
            {
                if (types[i] is TokenPieceType.Control or TokenPieceType.UserDefined or TokenPieceType.Unknown)
                {
                    added.Add(new AddedToken(i, pieces[i], Special: types[i] != TokenPieceType.UserDefined));
                    if (types[i] != TokenPieceType.UserDefined)
                    {
                        special[pieces[i]] = i;
                    }
                }
            }

            _specialMatcher = new AddedTokenMatcher(added);
        }

        SpecialTokens = special;
        byte[] proto = SentencePieceModelProto.Build(pieces, scores, types, unkId, bosId, eosId);
        using var stream = new MemoryStream(proto, writable: false);
        _encoder = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
    }

    public string Source { get; }

    /// <summary>The pieces as given (spaces spelled U+2581, byte pieces "&lt;0xNN&gt;"), by id.</summary>
    public IReadOnlyList<string> Pieces { get; }

    /// <summary>The merge scores by id (a higher score merges first).</summary>
    public IReadOnlyList<float> Scores { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int UnknownId { get; }
    /// <summary>True unless the file says otherwise (GGUF tokenizer.ggml.add_bos_token).</summary>
    public bool AddsBos { get; init; } = true;
    public string? BosToken { get; }
    public string? EosToken { get; }

    /// <summary>The control and unknown pieces matched in text; empty for llama2.c vocabularies (plain-text prompts).</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }
    public string? ChatTemplate { get; init; }
    public LeadingSpaceRule LeadingSpace => LeadingSpaceRule.AfterBos;

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        addBos &= AddsBos;
        if (_specialMatcher is null || text.Length == 0)
        {
            return text.Length == 0 ? (addBos ? [BosId] : []) : EncodeText(text, addBos);
        }

        var ids = new List<int>();
        if (addBos)
        {
            ids.Add(BosId);
        }

        foreach (var segment in _specialMatcher.Split(text))
        {
            if (segment.Id >= 0)
            {
                ids.Add(segment.Id);
            }
            else
            {
                ids.AddRange(EncodeText(segment.Text, addBos: false));
            }
        }

        return ids;
    }

    private IReadOnlyList<int> EncodeText(string text, bool addBos) =>
        _encoder.EncodeToIds(text, addBeginningOfSentence: addBos, addEndOfSentence: false,
            considerPreTokenization: true, considerNormalization: true);

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
