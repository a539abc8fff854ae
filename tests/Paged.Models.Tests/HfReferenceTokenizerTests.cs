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

    [TestMethod]
    [DataRow("tiny-llama3")]
    [DataRow("tiny-qwen2")]
    [DataRow("tiny-mistral")]
    public void Encodes_and_decodes_like_huggingface_tokenizers(string model)
    {
        Tokenizers.DotNet.Tokenizer reference;
        try
        {
            reference = new Tokenizers.DotNet.Tokenizer(Path.Combine(TestPaths.HfTiny, model, "tokenizer.json"));
        }
        catch (DllNotFoundException e)
        {
            Assert.Inconclusive($"the HF tokenizers native library is not available on this platform: {e.Message}");
            return;
        }

        using (reference)
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
}
