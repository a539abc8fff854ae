using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Paged.Models.Tokenization;

/// <summary>Vocabulary and merge rules of an HF "BPE" model (tokenizer.json model section or GGUF tokenizer.ggml.*).</summary>
internal sealed record BpeVocabulary(
    IReadOnlyDictionary<string, int> Vocab,
    IReadOnlyList<(string Left, string Right)> Merges,
    bool ByteLevel,
    bool ByteFallback,
    bool IgnoreMerges,
    string? UnknownToken,
    bool FuseUnknown);

/// <summary>
/// Encodes one pre-tokenized word. The merging is Microsoft.ML.Tokenizers' BpeTokenizer (merge priority = rank in the
/// merges list, as in HF tokenizers); this class adds what that tokenizer does not do: the byte-level alphabet mapping
/// (done here because decoding and ignore_merges need the same table), ignore_merges (a word that is itself a token is
/// that token), and SentencePiece-style byte fallback (characters without a token become their &lt;0xNN&gt; tokens).
/// </summary>
internal sealed class BpeModel
{
    private readonly BpeVocabulary _vocabulary;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    // True when every character of every word has a token (a byte-level vocabulary holding all 256 byte characters).
    private readonly bool _everyCharacterKnown;
    private readonly BpeTokenizer _merger;
    private readonly int[]? _byteTokens;
    private readonly int _unknownId = -1;

    public BpeModel(BpeVocabulary vocabulary, string source)
    {
        _vocabulary = vocabulary;
        var vocab = vocabulary.Vocab;
        _lookup = new Dictionary<string, int>(vocab, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        _everyCharacterKnown = vocabulary.ByteLevel && Enumerable.Range(0, 256).All(b => vocab.ContainsKey(ByteLevelAlphabet.FromBytes([(byte)b])));
        var merges = new List<string>(vocabulary.Merges.Count);
        var seen = new HashSet<string>(vocabulary.Merges.Count, StringComparer.Ordinal);
        foreach (var (left, right) in vocabulary.Merges)
        {
            string rule = left + " " + right;
            if (!vocab.ContainsKey(left) || !vocab.ContainsKey(right) || !vocab.ContainsKey(string.Concat(left, right)))
            {
                throw ModelFormatException.For(source, $"merge \"{rule}\" (rule {merges.Count}) uses a token that is not in the vocabulary");
            }

            if (left.Contains(' ', StringComparison.Ordinal) || right.Contains(' ', StringComparison.Ordinal))
            {
                throw ModelFormatException.For(source, $"merge \"{rule}\" (rule {merges.Count}) has a token containing a space, which is not supported");
            }

            if (!seen.Add(rule))
            {
                throw ModelFormatException.For(source, $"merge \"{rule}\" (rule {merges.Count}) appears more than once");
            }

            merges.Add(rule);
        }

        if (vocabulary.UnknownToken is { } unk)
        {
            _unknownId = vocab.TryGetValue(unk, out int id) ? id
                : throw ModelFormatException.For(source, $"unk_token \"{unk}\" is not in the vocabulary");
        }

        if (vocabulary.ByteFallback)
        {
            _byteTokens = new int[256];
            for (int b = 0; b < 256; b++)
            {
                _byteTokens[b] = vocab.TryGetValue(ByteToken(b), out int id) ? id : -1;
            }
        }

        CheckIdsUnique(vocab, source);
        try
        {
            _merger = BpeTokenizer.Create(new BpeOptions(vocab) { Merges = merges });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw new ModelFormatException($"{source}: the BPE model was refused: {e.Message}", e);
        }
    }

    private static void CheckIdsUnique(IReadOnlyDictionary<string, int> vocab, string source)
    {
        var byId = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab)
        {
            if (!byId.TryAdd(id, token))
            {
                throw ModelFormatException.For(source, string.Create(CultureInfo.InvariantCulture, $"tokens \"{byId[id]}\" and \"{token}\" share id {id}"));
            }
        }
    }

    /// <summary>The SentencePiece byte token name for a byte: &lt;0xNN&gt;.</summary>
    public static string ByteToken(int b) => string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>");

    public void Encode(string word, List<int> ids)
    {
        if (_vocabulary.ByteLevel)
        {
            word = ByteLevelAlphabet.Encode(word);
        }

        if (_vocabulary.IgnoreMerges && _lookup.TryGetValue(word, out int whole))
        {
            ids.Add(whole);
            return;
        }

        if (_everyCharacterKnown)
        {
            EncodeRun(word, 0, word.Length, ids);
            return;
        }

        // Merges never span a character without a token (it becomes byte or unknown tokens), so encode runs between them.
        int wordStart = ids.Count;
        int runStart = 0;
        int i = 0;
        while (i < word.Length)
        {
            int width = char.IsSurrogatePair(word, i) ? 2 : 1;
            if (_lookup.ContainsKey(word.AsSpan(i, width)))
            {
                i += width;
                continue;
            }

            EncodeRun(word, runStart, i, ids);
            EncodeUnknown(word.AsSpan(i, width), ids, wordStart);
            i += width;
            runStart = i;
        }

        EncodeRun(word, runStart, word.Length, ids);
    }

    private void EncodeRun(string word, int start, int end, List<int> ids)
    {
        if (end > start)
        {
            string run = start == 0 && end == word.Length ? word : word[start..end];
            ids.AddRange(_merger.EncodeToIds(run, considerPreTokenization: false, considerNormalization: false));
        }
    }

    private void EncodeUnknown(ReadOnlySpan<char> character, List<int> ids, int wordStart)
    {
        if (_byteTokens is not null)
        {
            Span<byte> utf8 = stackalloc byte[4];
            int n = Encoding.UTF8.GetBytes(character, utf8);
            bool all = true;
            for (int k = 0; k < n; k++)
            {
                all &= _byteTokens[utf8[k]] >= 0;
            }

            if (all)
            {
                for (int k = 0; k < n; k++)
                {
                    ids.Add(_byteTokens[utf8[k]]);
                }

                return;
            }
        }

        if (_unknownId >= 0 && !(_vocabulary.FuseUnknown && ids.Count > wordStart && ids[^1] == _unknownId))
        {
            ids.Add(_unknownId);
        }
    }
}
