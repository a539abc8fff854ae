using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using static Paged.Models.Tokenization.HfJson;

namespace Paged.Models.Tokenization;

/// <summary>
/// Reads a HuggingFace tokenizer.json with a BPE model: vocabulary, merges ("a b" strings or [a, b] arrays), added tokens,
/// normalizer, pre-tokenizer, decoder and the post-processor's special tokens. Anything else is a clear error.
/// </summary>
internal static class HfTokenizerJson
{
    public static HfTokenizerDefinition Read(string path, SpecialTokenSettings config)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw ModelFormatException.For(path, $"the top level should be an object but is {root.ValueKind}");
        }

        var model = Required(path, root, "model", "tokenizer.json");
        var decoder = ReadDecoder(path, Optional(root, "decoder"));
        var (prefix, suffix) = ReadPostProcessor(path, Optional(root, "post_processor"));
        return new HfTokenizerDefinition(
            path,
            ReadModel(path, model, decoder.ByteLevel),
            [.. Array(path, Optional(root, "added_tokens"), "added_tokens").Select((t, i) => ReadAddedToken(path, t, $"added_tokens[{i}]"))],
            ReadNormalizer(path, Optional(root, "normalizer"), "normalizer"),
            new PreTokenizerChain(ReadPreTokenizer(path, Optional(root, "pre_tokenizer"), "pre_tokenizer")),
            decoder,
            config with { Prefix = prefix, Suffix = suffix });
    }

    private static BpeVocabulary ReadModel(string path, JsonElement model, bool byteLevel)
    {
        string type = String(path, model, "type", "model") ?? (Optional(model, "merges") is null ? "(none)" : "BPE");
        if (type != "BPE")
        {
            throw ModelFormatException.For(path, $"model type {type} is not supported (only BPE: byte-level or with byte fallback)");
        }

        var vocabElement = Required(path, model, "vocab", "model");
        if (vocabElement.ValueKind != JsonValueKind.Object)
        {
            throw ModelFormatException.For(path, $"model.vocab should be an object of token: id but is {vocabElement.ValueKind}");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocabElement.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out int id) || id < 0)
            {
                throw ModelFormatException.For(path, $"model.vocab[\"{p.Name}\"] should be a non-negative id but is {p.Value}");
            }

            vocab[p.Name] = id;
        }

        var merges = new List<(string, string)>();
        foreach (var m in Array(path, Required(path, model, "merges", "model"), "model.merges"))
        {
            merges.Add(ReadMerge(path, m, merges.Count));
        }

        return new BpeVocabulary(vocab, merges, byteLevel,
            Bool(path, model, "byte_fallback", "model") ?? false,
            Bool(path, model, "ignore_merges", "model") ?? false,
            String(path, model, "unk_token", "model"),
            Bool(path, model, "fuse_unk", "model") ?? false);
    }

    private static (string, string) ReadMerge(string path, JsonElement m, int index)
    {
        if (m.ValueKind == JsonValueKind.String)
        {
            string[] parts = m.GetString()!.Split(' ');
            if (parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0)
            {
                return (parts[0], parts[1]);
            }
        }
        else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2
            && m[0].ValueKind == JsonValueKind.String && m[1].ValueKind == JsonValueKind.String)
        {
            return (m[0].GetString()!, m[1].GetString()!);
        }

        throw ModelFormatException.For(path, string.Create(CultureInfo.InvariantCulture,
            $"model.merges[{index}] is {m}; a merge is \"left right\" or [\"left\", \"right\"]"));
    }

    private static AddedToken ReadAddedToken(string path, JsonElement t, string where) => new(
        RequiredInt(path, t, "id", where),
        RequiredString(path, t, "content", where),
        Bool(path, t, "special", where) ?? false,
        Bool(path, t, "lstrip", where) ?? false,
        Bool(path, t, "rstrip", where) ?? false,
        Bool(path, t, "single_word", where) ?? false);

    private static TextNormalizer ReadNormalizer(string path, JsonElement? element, string where)
    {
        var steps = new List<Func<string, string>>();
        AddNormalizer(path, element, where, steps);
        return new TextNormalizer(steps);
    }

    private static void AddNormalizer(string path, JsonElement? element, string where, List<Func<string, string>> steps)
    {
        if (element is not { } n)
        {
            return;
        }

        string type = RequiredString(path, n, "type", where);
        switch (type)
        {
            case "Sequence":
                int i = 0;
                foreach (var inner in Array(path, Required(path, n, "normalizers", where), where + ".normalizers"))
                {
                    AddNormalizer(path, inner, $"{where}.normalizers[{i++}]", steps);
                }

                break;
            case "Prepend":
                steps.Add(TextNormalizer.Prepend(RequiredString(path, n, "prepend", where)));
                break;
            case "Replace":
                steps.Add(TextNormalizer.Replace(LiteralPattern(path, n, where), RequiredString(path, n, "content", where)));
                break;
            case "NFC" or "NFD" or "NFKC" or "NFKD":
                steps.Add(TextNormalizer.Unicode(type switch
                {
                    "NFC" => NormalizationForm.FormC,
                    "NFD" => NormalizationForm.FormD,
                    "NFKC" => NormalizationForm.FormKC,
                    _ => NormalizationForm.FormKD,
                }));
                break;
            case "Lowercase":
                steps.Add(TextNormalizer.Lowercase());
                break;
            case "Strip":
                steps.Add(TextNormalizer.Strip(Bool(path, n, "strip_left", where) ?? false, Bool(path, n, "strip_right", where) ?? false));
                break;
            default:
                throw ModelFormatException.For(path, $"{where} type {type} is not supported");
        }
    }

    private static string LiteralPattern(string path, JsonElement n, string where)
    {
        var pattern = Required(path, n, "pattern", where);
        return String(path, pattern, "String", where + ".pattern")
            ?? throw ModelFormatException.For(path, $"{where}.pattern should be {{\"String\": ...}} (regex replacements are not supported)");
    }

    private static List<PreTokenizerStep> ReadPreTokenizer(string path, JsonElement? element, string where)
    {
        if (element is not { } p)
        {
            return [];
        }

        string type = RequiredString(path, p, "type", where);
        return type switch
        {
            "Sequence" => [.. Array(path, Required(path, p, "pretokenizers", where), where + ".pretokenizers")
                .SelectMany((inner, i) => ReadPreTokenizer(path, inner, $"{where}.pretokenizers[{i}]"))],
            "Split" => [ReadSplit(path, p, where)],
            "ByteLevel" => [new ByteLevelStep(Bool(path, p, "add_prefix_space", where) ?? false, Bool(path, p, "use_regex", where) ?? true)],
            "Metaspace" => [new MetaspaceStep(Replacement(path, p, where), PrependScheme(path, p, where), Bool(path, p, "split", where) ?? true)],
            "Digits" => [new RegexSplitStep(new Regex(Bool(path, p, "individual_digits", where) == true ? @"\p{N}" : @"\p{N}+", RegexOptions.CultureInvariant),
                SplitBehavior.Isolated, invert: false)],
            "WhitespaceSplit" => [new RegexSplitStep(new Regex(@"\s+", RegexOptions.CultureInvariant), SplitBehavior.Removed, invert: false)],
            "Whitespace" => [new RegexSplitStep(new Regex(@"\w+|[^\w\s]+", RegexOptions.CultureInvariant), SplitBehavior.Removed, invert: true)],
            _ => throw ModelFormatException.For(path, $"{where} type {type} is not supported"),
        };
    }

    private static RegexSplitStep ReadSplit(string path, JsonElement p, string where)
    {
        var pattern = Required(path, p, "pattern", where);
        string regex = String(path, pattern, "Regex", where + ".pattern") is { } r ? r
            : Regex.Escape(String(path, pattern, "String", where + ".pattern")
                ?? throw ModelFormatException.For(path, $"{where}.pattern should be {{\"Regex\": ...}} or {{\"String\": ...}}"));
        string behavior = RequiredString(path, p, "behavior", where);
        if (!Enum.TryParse<SplitBehavior>(behavior, out var b))
        {
            throw ModelFormatException.For(path, $"{where}.behavior {behavior} is not one of {string.Join(", ", Enum.GetNames<SplitBehavior>())}");
        }

        return new RegexSplitStep(CompilePattern(path, regex, where), b, Bool(path, p, "invert", where) ?? false);
    }

    /// <summary>Compiles a pre-tokenizer pattern with .NET's engine (Oniguruma syntax such as possessive quantifiers is refused).</summary>
    internal static Regex CompilePattern(string path, string pattern, string where)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromSeconds(10));
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException($"{path}: {where} regex {pattern} is not supported by .NET regular expressions: {e.Message}", e);
        }
    }

    private static char Replacement(string path, JsonElement p, string where)
    {
        string r = String(path, p, "replacement", where) ?? "\u2581";
        return r.Length == 1 ? r[0] : throw ModelFormatException.For(path, $"{where}.replacement should be one character but is \"{r}\"");
    }

    private static string PrependScheme(string path, JsonElement p, string where) =>
        String(path, p, "prepend_scheme", where) ?? ((Bool(path, p, "add_prefix_space", where) ?? true) ? "always" : "never");

    private static DecoderRules ReadDecoder(string path, JsonElement? element)
    {
        var types = new List<JsonElement>();
        Flatten(path, element, "decoder", types);
        bool byteLevel = false, byteFallback = false;
        char? metaspace = null;
        var leading = LeadingSpaceRule.Keep;
        foreach (var d in types)
        {
            switch (RequiredString(path, d, "type", "decoder"))
            {
                case "ByteLevel":
                    byteLevel = true;
                    break;
                case "ByteFallback":
                    byteFallback = true;
                    break;
                case "Fuse":
                    break;
                case "Replace":
                    string from = LiteralPattern(path, d, "decoder");
                    metaspace = from.Length == 1 && RequiredString(path, d, "content", "decoder") == " " ? from[0]
                        : throw ModelFormatException.For(path, $"decoder Replace of \"{from}\" is not supported (only a metaspace character by a space)");
                    break;
                case "Strip":
                    leading = Optional(d, "start") is not null && RequiredInt(path, d, "start", "decoder Strip") > 0 ? LeadingSpaceRule.AtStart : leading;
                    break;
                case "Metaspace":
                    metaspace = Replacement(path, d, "decoder");
                    leading = PrependScheme(path, d, "decoder") == "never" ? leading : LeadingSpaceRule.AtStart;
                    break;
                case var t:
                    throw ModelFormatException.For(path, $"decoder type {t} is not supported");
            }
        }

        return new DecoderRules(byteLevel, byteFallback, metaspace, leading);
    }

    private static void Flatten(string path, JsonElement? element, string where, List<JsonElement> into)
    {
        if (element is not { } d)
        {
            return;
        }

        if (RequiredString(path, d, "type", where) == "Sequence")
        {
            foreach (var inner in Array(path, Required(path, d, "decoders", where), where + ".decoders"))
            {
                Flatten(path, inner, where, into);
            }
        }
        else
        {
            into.Add(d);
        }
    }

    /// <summary>The special tokens a TemplateProcessing post-processor puts around a single sequence ($A).</summary>
    private static (List<string> Prefix, List<string> Suffix) ReadPostProcessor(string path, JsonElement? element)
    {
        var prefix = new List<string>();
        var suffix = new List<string>();
        var processors = new List<JsonElement>();
        if (element is { } e)
        {
            if (RequiredString(path, e, "type", "post_processor") == "Sequence")
            {
                processors.AddRange(Array(path, Required(path, e, "processors", "post_processor"), "post_processor.processors"));
            }
            else
            {
                processors.Add(e);
            }
        }

        foreach (var p in processors)
        {
            string type = RequiredString(path, p, "type", "post_processor");
            if (type == "ByteLevel")
            {
                continue;
            }

            if (type != "TemplateProcessing")
            {
                throw ModelFormatException.For(path, $"post_processor type {type} is not supported (TemplateProcessing, ByteLevel, Sequence)");
            }

            bool seenSequence = false;
            foreach (var piece in Array(path, Required(path, p, "single", "post_processor"), "post_processor.single"))
            {
                if (Optional(piece, "SpecialToken") is { } special)
                {
                    (seenSequence ? suffix : prefix).Add(RequiredString(path, special, "id", "post_processor.single SpecialToken"));
                }
                else
                {
                    seenSequence = true;
                }
            }
        }

        return (prefix, suffix);
    }
}
