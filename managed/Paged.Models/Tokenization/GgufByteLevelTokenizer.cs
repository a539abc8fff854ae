using System.Globalization;
using Paged.Models.Gguf;

namespace Paged.Models.Tokenization;

/// <summary>
/// Builds a byte-level BPE tokenizer from a GGUF file with tokenizer.ggml.model = gpt2: tokens (in the byte-level
/// alphabet), merges ("left right"), token types (control = special, user-defined = added), and tokenizer.ggml.pre naming
/// the pre-tokenizer regex, as llama.cpp does.
/// </summary>
internal static class GgufByteLevelTokenizer
{
    /// <summary>Llama 3's split pattern (also what HF writes for cl100k-style vocabularies).</summary>
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's split pattern: as Llama 3's but one digit per piece.</summary>
    public const string Qwen2Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const int ControlType = 3;
    private const int UserDefinedType = 4;

    public static HfTokenizer Build(GgufFile file)
    {
        string path = file.Path;
        string[] tokens = file.GetArray<string>("tokenizer.ggml.tokens")
            ?? throw ModelFormatException.For(path, "metadata tokenizer.ggml.tokens is missing");
        string[] mergeRules = file.GetArray<string>("tokenizer.ggml.merges")
            ?? throw ModelFormatException.For(path, "metadata tokenizer.ggml.merges is missing (a gpt2 tokenizer needs its merges)");
        long[] types = TokenTypes(file, tokens.Length);

        var vocab = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        var added = new List<AddedToken>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (!vocab.TryAdd(tokens[i], i))
            {
                throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture, $"token {i} (\"{tokens[i]}\") appears more than once"));
            }

            if (types[i] is ControlType or UserDefinedType)
            {
                added.Add(new AddedToken(i, tokens[i], Special: types[i] == ControlType));
            }
        }

        var merges = new List<(string, string)>(mergeRules.Length);
        foreach (string rule in mergeRules)
        {
            string[] parts = rule.Split(' ');
            merges.Add(parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0 ? (parts[0], parts[1])
                : throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture, $"tokenizer.ggml.merges[{merges.Count}] is \"{rule}\"; a merge is \"left right\"")));
        }

        string pre = file.GetString("tokenizer.ggml.pre") ?? "default";
        var (steps, ignoreMerges) = PreTokenizer(path, pre);
        var settings = new SpecialTokenSettings
        {
            BosToken = TokenAt(file, tokens, "tokenizer.ggml.bos_token_id"),
            EosToken = TokenAt(file, tokens, "tokenizer.ggml.eos_token_id"),
            PadToken = TokenAt(file, tokens, "tokenizer.ggml.padding_token_id"),
            AddBos = GgufTokenizer.Flag(file, "tokenizer.ggml.add_bos_token") ?? false,
            AddEos = GgufTokenizer.Flag(file, "tokenizer.ggml.add_eos_token") ?? false,
            ChatTemplate = file.GetString("tokenizer.chat_template"),
        };
        return new HfTokenizer(new HfTokenizerDefinition(path,
            new BpeVocabulary(vocab, merges, ByteLevel: true, ByteFallback: false, ignoreMerges, UnknownToken: null, FuseUnknown: false),
            added, TextNormalizer.None, new PreTokenizerChain(steps),
            new DecoderRules(ByteLevel: true, ByteFallback: false, Metaspace: null, LeadingSpaceRule.Keep), settings));
    }

    /// <summary>The pre-tokenizer llama.cpp uses for a tokenizer.ggml.pre name; Llama 3 also ignores merges for whole-token words.</summary>
    internal static (List<PreTokenizerStep> Steps, bool IgnoreMerges) PreTokenizer(string path, string pre)
    {
        string? pattern = pre switch
        {
            "llama-bpe" or "llama3" => Llama3Pattern,
            "qwen2" => Qwen2Pattern,
            "default" or "gpt2" => null,
            _ => throw ModelFormatException.For(path, $"tokenizer.ggml.pre {pre} is not supported (llama-bpe, llama3, qwen2, gpt2, default)"),
        };
        if (pattern is null)
        {
            return ([new ByteLevelStep(addPrefixSpace: false, useRegex: true)], false);
        }

        var split = new RegexSplitStep(HfTokenizerJson.CompilePattern(path, pattern, "tokenizer.ggml.pre"), SplitBehavior.Isolated, invert: false);
        return ([split, new ByteLevelStep(addPrefixSpace: false, useRegex: false)], pre is "llama-bpe" or "llama3");
    }

    private static long[] TokenTypes(GgufFile file, int count)
    {
        var types = new long[count];
        Array.Fill(types, 1);
        if (!file.Metadata.TryGetValue("tokenizer.ggml.token_type", out var raw))
        {
            return types;
        }

        if (raw is not Array array || array.Length != count)
        {
            throw ModelFormatException.For(file.Path, $"tokenizer.ggml.token_type is not an array of {count} integers");
        }

        for (int i = 0; i < count; i++)
        {
            types[i] = GgufMetadata.ToInt64(array.GetValue(i)!) is { } t and >= 1 and <= 6 ? t
                : throw ModelFormatException.For(file.Path, string.Create(CultureInfo.InvariantCulture, $"token {i} has unknown token type {array.GetValue(i)}"));
        }

        return types;
    }

    private static string? TokenAt(GgufFile file, string[] tokens, string key) =>
        !file.TryGetInt(key, out int id) ? null
        : id >= 0 && id < tokens.Length ? tokens[id]
        : throw ModelFormatException.For(file.Path, string.Create(CultureInfo.InvariantCulture, $"{key} {id} is outside the {tokens.Length} tokens"));
}
