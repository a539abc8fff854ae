using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// Our tokenizer.json path against HuggingFace's own Rust tokenizers (through Tokenizers.DotNet, test-only) on every
/// hf-tiny tokenizer: the multilingual corpus and prompts full of special tokens encode to the same ids (with the
/// special tokens the tokenizer adds), and seeded random id sequences (byte-token runs, special tokens, stray ids)
/// decode to the same text with special tokens skipped.
/// </summary>
[TestClass]
public sealed class HfReferenceTokenizerTests
{
    private static readonly string[] SpecialLines =
    [
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>",
        "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
        "<s>[INST] Tell me a story [/INST] Once</s><s>[INST] more [/INST]",
        "text<|eot_id|>text <|im_end|> text </s>text<unk>",
        "<|endoftext|><|endoftext|>  <|im_start|>",
    ];

    private static Tokenizers.DotNet.Tokenizer Reference(string tokenizerJson)
    {
        try
        {
            return new Tokenizers.DotNet.Tokenizer(tokenizerJson);
        }
        catch (DllNotFoundException e)
        {
            Assert.Inconclusive($"the HF tokenizers native library is not available on this platform: {e.Message}");
            throw;
        }
    }

    /// <summary>Without byte fallback, characters without a token become &lt;unk&gt;, consecutive ones fused (fuse_unk).</summary>
    [TestMethod]
    public void Unknown_characters_without_byte_fallback_match_huggingface()
    {
        using var dir = new TempDir();
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.HfTiny, "tiny-mistral", "tokenizer.json")))!;
        json["model"]!["byte_fallback"] = false;
        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        using var reference = Reference(dir.File("tokenizer.json"));
        var ours = HfTokenizerLoader.Load(dir.Path);
        int unknown = 0;
        foreach (string line in MultilingualCorpus.Lines)
        {
            int[] expected = [.. reference.Encode(line).Select(id => (int)id)];
            CollectionAssert.AreEqual(expected, ours.Encode(line, addBos: true).ToArray(), $"\"{line}\"");
            unknown += expected.Count(id => id == 0);
        }

        Assert.IsTrue(unknown > 20, $"only {unknown} unknown tokens");
    }

    [TestMethod]
    [DataRow("tiny-llama3")]
    [DataRow("tiny-qwen2")]
    [DataRow("tiny-mistral")]
    public void Encodes_and_decodes_like_huggingface_tokenizers(string model)
    {
        using (var reference = Reference(Path.Combine(TestPaths.HfTiny, model, "tokenizer.json")))
        {
            var ours = HfTokenizerGoldenTests.For(model);
            foreach (string line in MultilingualCorpus.Lines.Concat(SpecialLines))
            {
                int[] expected = [.. reference.Encode(line).Select(id => (int)id)];
                int[] actual = [.. ours.Encode(line, addBos: true)];
                CollectionAssert.AreEqual(expected, actual, $"{model}: \"{line}\"");
                Assert.AreEqual(reference.Decode([.. expected.Select(id => (uint)id)]), ours.Decode(actual), $"{model} decode: \"{line}\"");
            }

            var random = new Random(7);
            for (int i = 0; i < 300; i++)
            {
                int[] ids = [.. Enumerable.Range(0, random.Next(1, 24)).Select(_ => random.Next(random.Next(4) == 0 ? 300 : ours.VocabSize))];
                Assert.AreEqual(reference.Decode([.. ids.Select(id => (uint)id)]), ours.Decode(ids), $"{model} decode of [{string.Join(", ", ids)}]");
            }
        }
    }

    /// <summary>
    /// Other layouts real checkpoints use, made from the tiny vocabularies and checked against HF tokenizers: Metaspace
    /// pre-tokenizer and decoder (newer Llama/Mistral files, prepend only at the start), and GPT-2's ByteLevel regex.
    /// </summary>
    [TestMethod]
    [DataRow("tiny-mistral", "metaspace-first")]
    [DataRow("tiny-mistral", "metaspace-always-split")]
    [DataRow("tiny-qwen2", "gpt2-bytelevel")]
    [DataRow("tiny-qwen2", "gpt2-bytelevel-prefix")]
    public void Other_pipeline_layouts_match_huggingface(string model, string layout)
    {
        using var dir = new TempDir();
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestPaths.HfTiny, model, "tokenizer.json")))!;
        System.Text.Json.Nodes.JsonObject Metaspace(string scheme, bool split) =>
            new() { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = scheme, ["split"] = split };
        switch (layout)
        {
            case "metaspace-first" or "metaspace-always-split":
                string scheme = layout == "metaspace-first" ? "first" : "always";
                json["normalizer"] = null;
                json["pre_tokenizer"] = Metaspace(scheme, split: layout != "metaspace-first");
                json["decoder"] = new System.Text.Json.Nodes.JsonObject
                {
                    ["type"] = "Sequence",
                    ["decoders"] = new System.Text.Json.Nodes.JsonArray(
                        new System.Text.Json.Nodes.JsonObject { ["type"] = "ByteFallback" },
                        Metaspace(scheme, split: true)),
                };
                break;
            default:
                json["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject
                {
                    ["type"] = "ByteLevel", ["add_prefix_space"] = layout.EndsWith("prefix", StringComparison.Ordinal), ["trim_offsets"] = true, ["use_regex"] = true,
                };
                break;
        }

        File.WriteAllText(dir.File("tokenizer.json"), json.ToJsonString());
        using var reference = Reference(dir.File("tokenizer.json"));
        var ours = HfTokenizerLoader.Load(dir.Path);
        foreach (string line in MultilingualCorpus.Lines.Concat(SpecialLines))
        {
            int[] expected = [.. reference.Encode(line).Select(id => (int)id)];
            CollectionAssert.AreEqual(expected, ours.Encode(line, addBos: true).ToArray(), $"{layout}: \"{line}\"");
            Assert.AreEqual(reference.Decode([.. expected.Select(id => (uint)id)]), ours.Decode(expected), $"{layout} decode: \"{line}\"");
        }
    }
}
