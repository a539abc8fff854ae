using System.Text.Json;
using Microsoft.ML.Tokenizers;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// The byte-level BPE path at full size: the cl100k and o200k vocabularies (Microsoft.ML.Tokenizers.Data.*) written as a
/// tokenizer.json the way transformers converts tiktoken files (ranks -> vocab, every two-token split of a token -> a
/// merge ordered by the token's rank, Split regex + ByteLevel, ignore_merges), loaded through our tokenizer.json path and
/// compared with the library's own tiktoken encoder: ids equal on a multilingual corpus, round trip exact.
/// </summary>
[TestClass]
public sealed class TiktokenComparisonTests
{
    private const string O200kPattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    [TestMethod]
    [DataRow("gpt-4", "Cl100kBase", "cl100k_base", GgufByteLevelTokenizer.Llama3Pattern, false, DisplayName = "cl100k_base, merges as \"a b\" strings")]
    [DataRow("gpt-4o", "O200kBase", "o200k_base", O200kPattern, true, DisplayName = "o200k_base, merges as [a, b] arrays")]
    public void Full_size_vocabulary_matches_the_library_tiktoken_encoder(string model, string package, string encoding, string pattern, bool arrayMerges)
    {
        var reference = TiktokenTokenizer.CreateForModel(model);
        var ranks = ReadRanks(package, encoding);
        using var dir = new TempDir();
        string path = dir.File("tokenizer.json");
        WriteTokenizerJson(path, ranks, reference.SpecialTokens!, pattern, arrayMerges);
        var ours = HfTokenizerLoader.LoadFile(path);
        Assert.AreEqual(Math.Max(ranks.Values.Max(), reference.SpecialTokens!.Values.Max()) + 1, ours.VocabSize);
        CollectionAssert.AreEquivalent(reference.SpecialTokens.ToArray(), ours.SpecialTokens.ToArray());

        int tokens = 0;
        foreach (string line in MultilingualCorpus.Lines)
        {
            int[] expected = [.. reference.EncodeToIds(line)];
            int[] actual = [.. ours.Encode(line, addBos: false)];
            CollectionAssert.AreEqual(expected, actual, $"{model}: \"{line}\"");
            Assert.AreEqual(line, ours.Decode(actual, skipSpecialTokens: false), $"{model} round trip: \"{line}\"");
            tokens += actual.Length;
        }

        Assert.IsTrue(tokens > 800, $"corpus gave only {tokens} tokens");
    }

    /// <summary>transformers' TikTokenConverter: vocab from ranks, merges from every split whose halves are tokens.</summary>
    /// <summary>
    /// The .tiktoken ranks embedded, deflated, in the data package (a "Capacity: N" line, then one base64 token per line,
    /// optionally followed by its rank, else ranked by position); keys in the byte-level alphabet.
    /// </summary>
    private static Dictionary<string, int> ReadRanks(string package, string encoding)
    {
        var assembly = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data." + package);
        using var resource = assembly.GetManifestResourceStream(encoding + ".tiktoken.deflate")
            ?? throw new InvalidOperationException($"{assembly.FullName} has no {encoding}.tiktoken.deflate");
        using var reader = new StreamReader(new System.IO.Compression.DeflateStream(resource, System.IO.Compression.CompressionMode.Decompress));
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        int next = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && !line.StartsWith("Capacity:", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                int rank = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : next;
                ranks[ByteLevelAlphabet.FromBytes(Convert.FromBase64String(parts[0]))] = rank;
                next = rank + 1;
            }
        }

        return ranks;
    }

    private static void WriteTokenizerJson(string path, Dictionary<string, int> ranks, IReadOnlyDictionary<string, int> specialTokens, string pattern, bool arrayMerges)
    {
        var merges = new List<(string Left, string Right, int Rank, int LeftRank, int RightRank)>();
        foreach (var (token, rank) in ranks)
        {
            for (int k = 1; k < token.Length; k++)
            {
                if (ranks.TryGetValue(token[..k], out int l) && ranks.TryGetValue(token[k..], out int r))
                {
                    merges.Add((token[..k], token[k..], rank, l, r));
                }
            }
        }

        merges.Sort((a, b) => (a.Rank, a.LeftRank, a.RightRank).CompareTo((b.Rank, b.LeftRank, b.RightRank)));

        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream);
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteStartArray("added_tokens");
        foreach (var (content, id) in specialTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", id);
            w.WriteString("content", content);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNull("normalizer");
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", pattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
        w.WriteStartObject();
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("use_regex", false);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("decoder");
        w.WriteString("type", "ByteLevel");
        w.WriteEndObject();
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteBoolean("ignore_merges", true);
        w.WriteStartObject("vocab");
        foreach (var (token, rank) in ranks)
        {
            w.WriteNumber(token, rank);
        }

        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var m in merges)
        {
            if (arrayMerges)
            {
                w.WriteStartArray();
                w.WriteStringValue(m.Left);
                w.WriteStringValue(m.Right);
                w.WriteEndArray();
            }
            else
            {
                w.WriteStringValue(m.Left + " " + m.Right);
            }
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
