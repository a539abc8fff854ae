using System.Globalization;

namespace Paged.Models.Tokenization;

/// <summary>How a tokenizer.json's decoder turns tokens back into bytes.</summary>
internal sealed record DecoderRules(bool ByteLevel, bool ByteFallback, char? Metaspace, LeadingSpaceRule LeadingSpace);

/// <summary>Special-token settings from tokenizer_config.json, GGUF metadata or the post-processor.</summary>
internal sealed record SpecialTokenSettings
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public string? PadToken { get; init; }

    /// <summary>add_bos_token / add_eos_token when stated; null lets the post-processor decide.</summary>
    public bool? AddBos { get; init; }
    public bool? AddEos { get; init; }

    /// <summary>Tokens the post-processor puts before and after a single sequence.</summary>
    public IReadOnlyList<string> Prefix { get; init; } = [];
    public IReadOnlyList<string> Suffix { get; init; } = [];
    public string? ChatTemplate { get; init; }
}

/// <summary>Everything needed to build an <see cref="HfTokenizer"/>, from tokenizer.json or a GGUF file.</summary>
internal sealed record HfTokenizerDefinition(
    string Source,
    BpeVocabulary Model,
    IReadOnlyList<AddedToken> AddedTokens,
    TextNormalizer Normalizer,
    PreTokenizerChain PreTokenizer,
    DecoderRules Decoder,
    SpecialTokenSettings Settings);

/// <summary>
/// A HuggingFace-style BPE tokenizer: added tokens matched first, then per text run normalizer, pre-tokenizer and the BPE
/// model (byte-level or SentencePiece-style with byte fallback); BOS/EOS added as tokenizer_config / the post-processor say.
/// </summary>
public sealed class HfTokenizer : PieceTableTokenizer, ITokenizer
{
    private readonly AddedTokenMatcher _added;
    private readonly TextNormalizer _normalizer;
    private readonly PreTokenizerChain _preTokenizer;
    private readonly BpeModel _model;
    private readonly int[] _prefix;
    private readonly int[] _suffix;

    internal HfTokenizer(HfTokenizerDefinition d)
        : base(TokenCount(d))
    {
        Source = d.Source;
        _added = new AddedTokenMatcher(d.AddedTokens);
        _normalizer = d.Normalizer;
        _preTokenizer = d.PreTokenizer;
        _model = new BpeModel(d.Model, d.Source);
        LeadingSpace = d.Decoder.LeadingSpace;
        GroupsByteRuns = d.Decoder.ByteFallback;

        var texts = new Dictionary<string, int>(d.Model.Vocab, StringComparer.Ordinal);
        foreach (var (token, id) in d.Model.Vocab)
        {
            var (bytes, type) = ModelPiece(token, d);
            SetPiece(id, bytes, type);
        }

        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in d.AddedTokens)
        {
            SetPiece(t.Id, System.Text.Encoding.UTF8.GetBytes(t.Content), t.Special ? TokenPieceType.Control : TokenPieceType.UserDefined);
            texts[t.Content] = t.Id;
            if (t.Special)
            {
                special[t.Content] = t.Id;
            }
        }

        SpecialTokens = special;
        var s = d.Settings;
        BosToken = s.BosToken;
        EosToken = s.EosToken;
        BosId = Resolve(texts, s.BosToken, "bos_token (tokenizer_config.json)");
        EosId = Resolve(texts, s.EosToken, "eos_token (tokenizer_config.json)");
        PadId = Resolve(texts, s.PadToken, "pad_token (tokenizer_config.json)");
        ChatTemplate = s.ChatTemplate;
        _prefix = s.AddBos switch
        {
            true when BosId >= 0 => [BosId],
            true or false => [],
            null => [.. s.Prefix.Select(t => Resolve(texts, t, "post_processor token"))],
        };
        _suffix = s.AddEos switch
        {
            true when EosId >= 0 => [EosId],
            true or false => [],
            null => [.. s.Suffix.Select(t => Resolve(texts, t, "post_processor token"))],
        };
        AddsBos = BosId >= 0 && _prefix.Contains(BosId);
    }

    public string Source { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int PadId { get; }
    public bool AddsBos { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }
    public string? ChatTemplate { get; }
    public LeadingSpaceRule LeadingSpace { get; }

    /// <summary>True with HF's ByteFallback decoder: a run of byte tokens decodes as a whole, or as one U+FFFD per token.</summary>
    internal bool GroupsByteRuns { get; }

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addBos)
        {
            ids.AddRange(_prefix);
        }

        foreach (var segment in _added.Split(text))
        {
            if (segment.Id >= 0)
            {
                ids.Add(segment.Id);
                continue;
            }

            string normalized = _normalizer.Apply(segment.Text);
            foreach (var word in _preTokenizer.Split(new TextPiece(normalized, segment.AtInputStart)))
            {
                _model.Encode(word.Text, ids);
            }
        }

        if (addBos)
        {
            ids.AddRange(_suffix);
        }

        return ids;
    }

    private static int TokenCount(HfTokenizerDefinition d)
    {
        ArgumentNullException.ThrowIfNull(d);
        int maxId = d.Model.Vocab.Values.DefaultIfEmpty(-1).Max();
        foreach (var t in d.AddedTokens)
        {
            maxId = t.Id >= 0 ? Math.Max(maxId, t.Id)
                : throw ModelFormatException.For(d.Source, string.Create(CultureInfo.InvariantCulture, $"added token \"{t.Content}\" has negative id {t.Id}"));
        }

        return maxId + 1 <= 1 << 24 ? maxId + 1
            : throw ModelFormatException.For(d.Source, string.Create(CultureInfo.InvariantCulture, $"token id {maxId} is implausibly large"));
    }

    private static (byte[] Bytes, TokenPieceType Type) ModelPiece(string token, HfTokenizerDefinition d)
    {
        if (d.Decoder.ByteLevel)
        {
            return (ByteLevelAlphabet.Decode(token), TokenPieceType.Normal);
        }

        if (d.Decoder.ByteFallback && token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
        {
            return ([b], TokenPieceType.Byte);
        }

        string text = d.Decoder.Metaspace is { } m ? token.Replace(m, ' ') : token;
        var type = token == d.Model.UnknownToken ? TokenPieceType.Unknown : TokenPieceType.Normal;
        return (System.Text.Encoding.UTF8.GetBytes(text), type);
    }

    private int Resolve(Dictionary<string, int> texts, string? token, string what) =>
        token is null ? -1
        : texts.TryGetValue(token, out int id) ? id
        : throw ModelFormatException.For(Source, $"{what} \"{token}\" is neither an added token nor in the vocabulary");
}
