using System.Collections.Concurrent;
using Paged.Models.Templates;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// tokenizer.json loading checked against transformers' own tokenization and decoding of the hf-tiny models
/// (../shared/golden/hf_tiny_reference.jsonl): prompt ids exactly, decoded text exactly.
/// </summary>
[TestClass]
public sealed class HfTokenizerGoldenTests
{
    private static readonly ConcurrentDictionary<string, HfTokenizer> Tokenizers = new();

    internal static HfTokenizer For(string model) =>
        Tokenizers.GetOrAdd(model, m => HfTokenizerLoader.Load(Path.Combine(TestPaths.HfTiny, m)));

    private static IEnumerable<HfGoldenRow> Rows(string kind) => HfGoldenRow.Load().Where(r => r.Kind == kind);

    [TestMethod]
    public void Completion_prompts_encode_to_the_reference_ids()
    {
        int checkedRows = 0;
        foreach (var row in Rows("completion"))
        {
            var ids = For(row.Model).Encode(row.Prompt.GetString()!, addBos: true);
            CollectionAssert.AreEqual(row.PromptIds, ids.ToArray(), row.ToString());
            checkedRows++;
        }

        Assert.IsTrue(checkedRows >= 24, $"only {checkedRows} completion rows");
    }

    /// <summary>The reference decoded with skip_special_tokens=False: a tiny-llama3 output holds &lt;|begin_of_text|&gt; verbatim.</summary>
    [TestMethod]
    public void Outputs_decode_to_the_reference_text()
    {
        foreach (var row in HfGoldenRow.Load())
        {
            var tokenizer = For(row.Model);
            Assert.AreEqual(row.OutputText, tokenizer.Decode(row.OutputIds, skipSpecialTokens: false), row.ToString());
            Assert.AreEqual(row.OutputText, StreamingDetokenizerTests.Stream(tokenizer, row.OutputIds, skipSpecialTokens: false), row.ToString());
        }
    }

    [TestMethod]
    public void Special_tokens_and_settings_come_from_the_model_directory()
    {
        var llama = For("tiny-llama3");
        Assert.AreEqual((0, 4, true), (llama.BosId, llama.EosId, llama.AddsBos));
        Assert.AreEqual("<|begin_of_text|>", llama.BosToken);
        Assert.AreEqual(5, llama.SpecialTokens.Count);
        StringAssert.StartsWith(llama.ChatTemplate, "{{ bos_token }}");

        var qwen = For("tiny-qwen2");
        Assert.AreEqual((-1, 2, false, 0), (qwen.BosId, qwen.EosId, qwen.AddsBos, qwen.PadId));
        Assert.IsNull(qwen.BosToken);
        StringAssert.Contains(qwen.ChatTemplate, "<|im_start|>");

        var mistral = For("tiny-mistral");
        Assert.AreEqual((1, 2, true), (mistral.BosId, mistral.EosId, mistral.AddsBos));
        Assert.AreEqual(LeadingSpaceRule.AtStart, mistral.LeadingSpace);
        var clef = mistral.Encode("\U0001D11E", addBos: false);
        Assert.AreEqual(5, clef.Count, "dummy prefix and four byte tokens");
        Assert.IsTrue(clef.Skip(1).All(id => mistral.PieceType(id) == TokenPieceType.Byte));
    }

    /// <summary>Special tokens written in the prompt are matched as single tokens (as transformers does), not spelled out.</summary>
    [TestMethod]
    public void Special_tokens_in_text_are_matched()
    {
        var llama = For("tiny-llama3");
        var ids = llama.Encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", addBos: true);
        Assert.AreEqual(0, ids[0]);
        Assert.AreEqual(2, ids[1]);
        Assert.AreEqual(4, ids[^1]);
        CollectionAssert.Contains(ids.ToArray(), 3);
        Assert.AreEqual("user\n\nHi", llama.Decode(ids));
        Assert.AreEqual("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", llama.Decode(ids, skipSpecialTokens: false));

        var mistral = For("tiny-mistral");
        var m = mistral.Encode("Hi</s>there", addBos: false);
        CollectionAssert.Contains(m.ToArray(), 2);
        Assert.AreEqual("Hi</s> there", mistral.Decode(m, skipSpecialTokens: false));
    }

    /// <summary>
    /// Chat rows: the messages rendered with the model's chat template (the Jinja engine in Paged.Models.Templates,
    /// add_generation_prompt true, bos_token / eos_token from the tokenizer) and encoded without adding special tokens,
    /// as transformers' apply_chat_template(tokenize=True) does.
    /// </summary>
    [TestMethod]
    public void Chat_prompts_render_and_encode_to_the_reference_ids()
    {
        int checkedRows = 0;
        foreach (var row in Rows("chat"))
        {
            var tokenizer = For(row.Model);
            var messages = row.Prompt.EnumerateArray()
                .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()))
                .ToList();
            var context = new ChatTemplateContext { BosToken = tokenizer.BosToken ?? "", EosToken = tokenizer.EosToken ?? "" };
            string text = new ChatTemplate(tokenizer.ChatTemplate!).Render(messages, addGenerationPrompt: true, context);
            CollectionAssert.AreEqual(row.PromptIds, tokenizer.Encode(text, addBos: false).ToArray(), $"{row}\n{text}");
            checkedRows++;
        }

        Assert.IsTrue(checkedRows >= 4, $"only {checkedRows} chat rows");
    }
}
