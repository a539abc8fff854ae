using System.Text.Json;
using Paged.Models.Gguf;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// GGUF tokenizer.ggml.model = gpt2: the hf-tiny byte-level vocabularies written as GGUF metadata the way llama.cpp's
/// converter does (tokens by id, merges "a b", token types, tokenizer.ggml.pre) must encode the completion prompts to
/// transformers' ids and decode outputs to transformers' text.
/// </summary>
[TestClass]
public sealed class GgufByteLevelTokenizerTests
{
    private static ITokenizer Write(TempDir dir, string model, string pre, bool addBos)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.HfTiny, model, "tokenizer.json")));
        var root = doc.RootElement;
        var tokens = new SortedDictionary<int, string>();
        foreach (var p in root.GetProperty("model").GetProperty("vocab").EnumerateObject())
        {
            tokens[p.Value.GetInt32()] = p.Name;
        }

        var types = new int[tokens.Count];
        Array.Fill(types, 1);
        foreach (var t in root.GetProperty("added_tokens").EnumerateArray())
        {
            int id = t.GetProperty("id").GetInt32();
            tokens[id] = t.GetProperty("content").GetString()!;
            types[id] = t.GetProperty("special").GetBoolean() ? 3 : 4;
        }

        Assert.AreEqual(tokens.Count, tokens.Keys.Max() + 1, "ids are dense");
        string[] merges = [.. root.GetProperty("model").GetProperty("merges").EnumerateArray().Select(m => m[0].GetString() + " " + m[1].GetString())];
        var hf = HfTokenizerGoldenTests.For(model);
        var g = new GgufTestWriter()
            .String("general.architecture", "llama")
            .String("tokenizer.ggml.model", "gpt2")
            .String("tokenizer.ggml.pre", pre)
            .Strings("tokenizer.ggml.tokens", [.. tokens.Values])
            .Ints("tokenizer.ggml.token_type", types)
            .Strings("tokenizer.ggml.merges", merges)
            .UInt32("tokenizer.ggml.eos_token_id", (uint)hf.EosId)
            .Bool("tokenizer.ggml.add_bos_token", addBos)
            .String("tokenizer.chat_template", hf.ChatTemplate!);
        if (hf.BosId >= 0)
        {
            g.UInt32("tokenizer.ggml.bos_token_id", (uint)hf.BosId);
        }

        string path = dir.File(model + ".gguf");
        g.Save(path);
        return GgufTokenizer.FromGguf(GgufFile.Open(path));
    }

    [TestMethod]
    [DataRow("tiny-llama3", true)]
    [DataRow("tiny-qwen2", false)]
    [DataRow("tiny-qwen3", false)]
    public void Gguf_gpt2_vocabulary_reproduces_the_reference_rows(string model, bool addBos)
    {
        using var dir = new TempDir();
        var tokenizer = Write(dir, model, "llama-bpe", addBos);
        var hf = HfTokenizerGoldenTests.For(model);
        Assert.AreEqual((hf.BosId, hf.EosId, hf.AddsBos, hf.ChatTemplate), (tokenizer.BosId, tokenizer.EosId, tokenizer.AddsBos, tokenizer.ChatTemplate));
        CollectionAssert.AreEquivalent(hf.SpecialTokens.ToArray(), tokenizer.SpecialTokens.ToArray());
        var rows = HfGoldenRow.Load().Where(r => r.Model == model).ToList();
        Assert.IsTrue(rows.Count >= 6);
        foreach (var row in rows.Where(r => r.Kind == "completion"))
        {
            CollectionAssert.AreEqual(row.PromptIds, tokenizer.Encode(row.Prompt.GetString()!, addBos: true).ToArray(), row.ToString());
        }

        foreach (var row in rows)
        {
            Assert.AreEqual(row.OutputText, tokenizer.Decode(row.OutputIds, skipSpecialTokens: false), row.ToString());
        }

        foreach (string line in MultilingualCorpus.Lines)
        {
            CollectionAssert.AreEqual(hf.Encode(line, addBos: true).ToArray(), tokenizer.Encode(line, addBos: true).ToArray(), line);
        }
    }

    /// <summary>tokenizer.ggml.pre = qwen2 splits numbers into single digits (llama.cpp's Qwen2 regex); llama-bpe keeps up to three.</summary>
    [TestMethod]
    public void Qwen2_pre_tokenizer_splits_digits_one_by_one()
    {
        using var dir = new TempDir();
        var qwen2 = Write(dir, "tiny-qwen2", "qwen2", addBos: false);
        var llama = Write(dir, "tiny-llama3", "llama-bpe", addBos: false);
        var digits = qwen2.Encode("2024", addBos: false);
        Assert.AreEqual(4, digits.Count);
        CollectionAssert.AreEqual("2024".Select(c => qwen2.Encode(c.ToString(), addBos: false).Single()).ToArray(), digits.ToArray());
        Assert.IsTrue(llama.Encode("2024", addBos: false).Count < 4, "llama-bpe groups digits");
        Assert.AreEqual("2024", qwen2.Decode(digits));
    }

    [TestMethod]
    public void Unknown_pre_tokenizer_is_refused_with_its_name()
    {
        using var dir = new TempDir();
        var e = Assert.ThrowsExactly<ModelFormatException>(() => Write(dir, "tiny-qwen2", "deepseek-coder", addBos: false));
        StringAssert.Contains(e.Message, "tokenizer.ggml.pre deepseek-coder is not supported");
        StringAssert.Contains(e.Message, dir.Path);
    }
}
