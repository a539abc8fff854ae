using System.Text;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

[TestClass]
public sealed class StreamingDetokenizerTests
{
    internal static string Stream(ITokenizer tokenizer, IEnumerable<int> ids, bool skipSpecialTokens) =>
        Stream(tokenizer, ids, null, skipSpecialTokens);

    private static readonly Lazy<SentencePieceTokenizer> Tok = new(() => Llama2cTokenizerFile.Load(TestPaths.Tok512, 512));

    internal static string Stream(ITokenizer tokenizer, IEnumerable<int> ids, List<string>? parts = null, bool skipSpecialTokens = true)
    {
        var detok = new StreamingDetokenizer(tokenizer, skipSpecialTokens);
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            string s = detok.Append(id);
            parts?.Add(s);
            sb.Append(s);
        }

        string rest = detok.Flush();
        parts?.Add(rest);
        return sb.Append(rest).ToString();
    }

    private static int[] BytePieces(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => b + 3)];

    [TestMethod]
    public void Streaming_equals_decode_on_golden_outputs()
    {
        var tokenizer = Tok.Value;
        var cases = Golden.Load();
        Assert.HasCount(8, cases, "every golden row is read");
        foreach (var c in cases)
        {
            int[] ids = [.. c.PromptIds, .. c.OutputIds];
            Assert.AreEqual(tokenizer.Decode(ids), Stream(tokenizer, ids));
            Assert.AreEqual(tokenizer.Decode(c.OutputIds), Stream(tokenizer, c.OutputIds));
        }
    }

    [TestMethod]
    public void Emoji_split_over_byte_pieces_is_held_back_until_complete()
    {
        var tokenizer = Tok.Value;
        int[] ids = [1, .. BytePieces("a🙂b")];
        var parts = new List<string>();
        string all = Stream(tokenizer, ids, parts);
        Assert.AreEqual("a🙂b", all);
        Assert.AreEqual(tokenizer.Decode(ids), all);
        Assert.AreEqual("|a||||🙂|b|", string.Join("|", parts));
        foreach (string p in parts)
        {
            Assert.IsFalse(p.Any(char.IsSurrogate) && p.Length == 1, "a lone surrogate was emitted");
        }
    }

    [TestMethod]
    public void Leading_space_after_bos_is_dropped_once()
    {
        var tokenizer = Tok.Value;
        var ids = tokenizer.Encode("Once upon a time", addBos: true);
        var parts = new List<string>();
        Assert.AreEqual("Once upon a time", Stream(tokenizer, ids, parts));
        Assert.AreEqual("", parts[0]);
        Assert.IsFalse(parts[1].StartsWith(' '));
        // Without BOS the space stays.
        Assert.AreEqual(" Once upon a time", Stream(tokenizer, ids.Skip(1)));
    }

    [TestMethod]
    public void Incomplete_trailing_bytes_flush_as_replacement_character()
    {
        var tokenizer = Tok.Value;
        int[] ids = [.. BytePieces("x"), .. BytePieces("🙂").Take(3)];
        var parts = new List<string>();
        string all = Stream(tokenizer, ids, parts);
        Assert.AreEqual(tokenizer.Decode(ids), all);
        Assert.AreEqual("x\uFFFD", all);
        Assert.AreEqual("\uFFFD", parts[^1]);
    }

    [TestMethod]
    public void Invalid_bytes_match_decode()
    {
        var tokenizer = Tok.Value;
        int[] ids = [0xFF + 3, 0x41 + 3, 0xC3 + 3, 0x28 + 3, 0xE2 + 3, 0x82 + 3, 0x41 + 3, 0xF0 + 3, 0x9F + 3];
        Assert.AreEqual(tokenizer.Decode(ids), Stream(tokenizer, ids));
    }

    /// <summary>
    /// Byte-level BPE (tiny-llama3, whose small vocabulary splits most non-Latin characters over several tokens): every
    /// streamed part is whole characters, and the parts concatenate to the full decode and to the original text.
    /// </summary>
    [TestMethod]
    public void Byte_level_tokens_never_split_a_character()
    {
        var tokenizer = HfTokenizerGoldenTests.For("tiny-llama3");
        int heldBack = 0;
        foreach (string line in MultilingualCorpus.Lines)
        {
            var ids = tokenizer.Encode(line, addBos: true);
            var parts = new List<string>();
            string all = Stream(tokenizer, ids, parts, skipSpecialTokens: false);
            Assert.AreEqual(tokenizer.Decode(ids, skipSpecialTokens: false), all, line);
            Assert.AreEqual("<|begin_of_text|>" + line, all);
            Assert.AreEqual(line, Stream(tokenizer, ids));
            foreach (string part in parts)
            {
                Assert.IsFalse(part.Contains('\uFFFD', StringComparison.Ordinal), $"a replacement character was emitted for \"{line}\"");
                Assert.IsFalse(part.Length > 0 && (char.IsLowSurrogate(part[0]) || char.IsHighSurrogate(part[^1])), $"a surrogate pair was split in \"{line}\"");
            }

            heldBack += ids.Where((id, i) => parts[i].Length == 0 && tokenizer.PieceBytes(id).Length > 0).Count();
        }

        Assert.IsTrue(heldBack > 50, $"only {heldBack} tokens ended inside a character; the corpus should exercise holding back");
    }
}
