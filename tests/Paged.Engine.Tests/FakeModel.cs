using System.Text;
using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Engine.Tests;

/// <summary>
/// A tokenizer without a model file: ids 0..2 are unk/BOS/EOS, 3..258 the byte pieces &lt;0x00&gt;..&lt;0xFF&gt;,
/// then <see cref="Pieces"/> (multi-byte characters included). Decode is written here, independently of the
/// engine's streaming detokenizer: the pieces' bytes, control pieces dropped, decoded as UTF-8.
/// </summary>
internal sealed class FakeTokenizer : ITokenizer
{
    public static readonly string[] Pieces = [" ", "a", "b", "c", "d", "ab", "bc", "é", "€", "😀", "a😀", "\n", "stop", "é€", " the", "xyz"];

    public const int FirstPiece = 259;

    public int VocabSize => FirstPiece + Pieces.Length;

    public int BosId => 1;

    public int EosId => 2;

    public bool AddsBos => true;

    public string? BosToken => null;

    public string? EosToken => null;

    public IReadOnlyDictionary<string, int> SpecialTokens { get; } = new Dictionary<string, int>();

    public string? ChatTemplate => null;

    /// <summary>Decode keeps every space (so does <see cref="Decode(IEnumerable{int})"/>).</summary>
    public LeadingSpaceRule LeadingSpace => LeadingSpaceRule.Keep;

    public static int Id(string piece) => FirstPiece + Array.IndexOf(Pieces, piece);

    public static int Byte(byte b) => 3 + b;

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        var ids = new List<int>();
        if (addBos)
            ids.Add(BosId);
        foreach (byte b in Encoding.UTF8.GetBytes(text))
            ids.Add(Byte(b));
        return ids;
    }

    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
            bytes.AddRange(PieceBytes(id).ToArray());
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Control pieces have no text, so skipping special tokens changes nothing here.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens) => Decode(ids);

    public ReadOnlySpan<byte> PieceBytes(int id) => id switch
    {
        < 3 => [],
        < FirstPiece => new[] { (byte)(id - 3) },
        _ => Encoding.UTF8.GetBytes(Pieces[id - FirstPiece]),
    };

    public TokenPieceType PieceType(int id) => id switch
    {
        0 => TokenPieceType.Unknown,
        < 3 => TokenPieceType.Control,
        < FirstPiece => TokenPieceType.Byte,
        _ => TokenPieceType.Normal,
    };
}

/// <summary>Engines over <see cref="FakeExecutor"/> and <see cref="FakeTokenizer"/>: the real loop, no model.</summary>
internal static class FakeModel
{
    public static ModelConfig Config(int vocab) => new()
    {
        Dim = 8, HiddenDim = 8, NumLayers = 1, NumHeads = 1, NumKvHeads = 1, VocabSize = vocab, MaxSeqLen = 4096,
        StopTokenIds = [2],
    };

    /// <summary>An engine whose sequences sample <paramref name="script"/>(request's external id, completion index, tokens generated so far).</summary>
    public static LlmEngine Engine(EngineOptions options, Func<string, int, int, int> script, Action<StepPlan>? beforeExecute = null)
    {
        var tokenizer = new FakeTokenizer();
        var executor = new FakeExecutor(options.NumKvBlocks, options.BlockSize, tokenizer.VocabSize)
        {
            TokenSource = seq => script(seq.Request.ExternalId ?? "", seq.Index, seq.NumGenerated),
            BeforeExecute = beforeExecute,
        };
        return new LlmEngine(executor, Config(tokenizer.VocabSize), tokenizer, options);
    }

    public static EngineOptions Options(int numKvBlocks = 64, int blockSize = 4, int maxNumSeqs = 8, int maxBatchedTokens = 64) => new()
    {
        NumKvBlocks = numKvBlocks, BlockSize = blockSize, MaxNumSeqs = maxNumSeqs, MaxNumBatchedTokens = maxBatchedTokens,
    };
}
