using System.Text;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

[TestClass]
public sealed class StreamingDetokenizerTests
{
    private static readonly Lazy<SentencePieceTokenizer> Tok = new(() => Llama2cTokenizerFile.Load(TestPaths.Tok512, 512));

    private static string Stream(ITokenizer tokenizer, IEnumerable<int> ids, List<string>? parts = null)
    {
        var detok = new StreamingDetokenizer(tokenizer);
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
}
