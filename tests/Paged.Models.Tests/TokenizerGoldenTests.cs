using Paged.Models.Gguf;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

[TestClass]
public sealed class TokenizerGoldenTests
{
    private static SentencePieceTokenizer? s_bin;
    private static ITokenizer? s_gguf;

    private static SentencePieceTokenizer Bin => s_bin ??= Llama2cTokenizerFile.Load(TestPaths.Tok512, 512);
    private static ITokenizer Gguf => s_gguf ??= GgufTokenizer.FromGguf(GgufFile.Open(TestPaths.Gguf));

    public static IEnumerable<object[]> Tokenizers() => [["bin"], ["gguf"]];

    private static ITokenizer Get(string which) => which == "bin" ? Bin : Gguf;

    [TestMethod]
    [DynamicData(nameof(Tokenizers))]
    public void Golden_prompts_encode_to_reference_ids(string which)
    {
        var tokenizer = Get(which);
        var cases = Golden.Load();
        Assert.HasCount(8, cases);
        foreach (var c in cases)
        {
            CollectionAssert.AreEqual(c.PromptIds, tokenizer.Encode(c.Prompt, addBos: true).ToArray(), $"prompt \"{c.Prompt}\"");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Tokenizers))]
    public void Golden_text_is_decoded_prompt_and_completion(string which)
    {
        var tokenizer = Get(which);
        var cases = Golden.Load();
        Assert.HasCount(8, cases, "every golden row is read");
        foreach (var c in cases)
        {
            var ids = c.PromptIds.Concat(c.OutputIds).ToArray();
            // run.c prints the prompt pieces, the generated pieces (not the final BOS), then a newline.
            Assert.AreEqual(c.Text, tokenizer.Decode(ids) + "\n", $"prompt \"{c.Prompt}\"");
        }
    }

    [TestMethod]
    [DynamicData(nameof(Tokenizers))]
    public void Non_ascii_text_round_trips(string which)
    {
        var tokenizer = Get(which);
        foreach (string text in new[] { "café 🙂", "naïve — Ωmega 日本語 ✓", "  two  spaces\nand a newline" })
        {
            var ids = tokenizer.Encode(text, addBos: true);
            Assert.AreEqual(tokenizer.BosId, ids[0]);
            Assert.AreEqual(text, tokenizer.Decode(ids), $"ids: {string.Join(",", ids)}");
            Assert.AreEqual(" " + text, tokenizer.Decode(tokenizer.Encode(text, addBos: false)));
        }
    }

    [TestMethod]
    public void Both_vocabularies_agree_piece_for_piece()
    {
        Assert.AreEqual(512, Bin.VocabSize);
        Assert.AreEqual(512, Gguf.VocabSize);
        for (int id = 0; id < 512; id++)
        {
            Assert.AreEqual(Bin.PieceType(id), Gguf.PieceType(id), $"type of {id}");
            CollectionAssert.AreEqual(Bin.PieceBytes(id).ToArray(), Gguf.PieceBytes(id).ToArray(), $"bytes of {id}");
        }
    }

    [TestMethod]
    public void Empty_text_and_special_ids()
    {
        Assert.AreEqual("1", string.Join(",", Bin.Encode("", addBos: true)));
        Assert.IsEmpty(Bin.Encode("", addBos: false));
        Assert.AreEqual(1, Bin.BosId);
        Assert.AreEqual(2, Bin.EosId);
        Assert.AreEqual(TokenPieceType.Byte, Bin.PieceType(3 + 0xF0));
        CollectionAssert.AreEqual(new byte[] { 0xF0 }, Bin.PieceBytes(3 + 0xF0).ToArray());
        Assert.AreEqual("", Bin.Decode([1, 2]));
    }
}
