using Google.Protobuf;
using Paged.Models.Gguf;
using Paged.Models.Templates;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// GGUF tokenizer.ggml.model = llama for a HF architecture: tiny-mistral's tokenizer.model (pieces, scores, types) written
/// as GGUF metadata the way llama.cpp's converter does. Completion prompts encode to transformers' ids, and chat prompts
/// rendered with the template (whose "&lt;s&gt;" must be matched as BOS, as llama.cpp's parse_special does) too.
/// </summary>
[TestClass]
public sealed class GgufSentencePieceTokenizerTests
{
    [TestMethod]
    public void Gguf_llama_vocabulary_of_tiny_mistral_reproduces_the_reference_rows()
    {
        string dir = Path.Combine(TestPaths.HfTiny, "tiny-mistral");
        var (pieces, scores, types) = ReadModelProto(File.ReadAllBytes(Path.Combine(dir, "tokenizer.model")));
        var hf = HfTokenizerGoldenTests.For("tiny-mistral");
        using var temp = new TempDir();
        string path = temp.File("mistral.gguf");
        new GgufTestWriter()
            .String("general.architecture", "llama")
            .String("tokenizer.ggml.model", "llama")
            .Strings("tokenizer.ggml.tokens", pieces)
            .Floats("tokenizer.ggml.scores", scores)
            .Ints("tokenizer.ggml.token_type", types)
            .UInt32("tokenizer.ggml.bos_token_id", 1)
            .UInt32("tokenizer.ggml.eos_token_id", 2)
            .UInt32("tokenizer.ggml.unknown_token_id", 0)
            .Bool("tokenizer.ggml.add_bos_token", true)
            .String("tokenizer.chat_template", hf.ChatTemplate!)
            .Save(path);
        var tokenizer = GgufTokenizer.FromGguf(GgufFile.Open(path));
        Assert.AreEqual((1, 2, true, "<s>", "</s>"), (tokenizer.BosId, tokenizer.EosId, tokenizer.AddsBos, tokenizer.BosToken, tokenizer.EosToken));
        CollectionAssert.AreEquivalent(hf.SpecialTokens.ToArray(), tokenizer.SpecialTokens.ToArray());

        int rows = 0;
        foreach (var row in HfGoldenRow.Load().Where(r => r.Model == "tiny-mistral"))
        {
            string text = row.Kind == "completion" ? row.Prompt.GetString()!
                : new ChatTemplate(tokenizer.ChatTemplate!).Render(
                    [.. row.Prompt.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()))],
                    addGenerationPrompt: true,
                    new ChatTemplateContext { BosToken = tokenizer.BosToken!, EosToken = tokenizer.EosToken! });
            CollectionAssert.AreEqual(row.PromptIds, tokenizer.Encode(text, addBos: row.Kind == "completion").ToArray(), row.ToString());
            rows++;
        }

        Assert.AreEqual(7, rows);
    }

    /// <summary>The pieces of a SentencePiece ModelProto (field 1: piece 1, score 2, type 3).</summary>
    private static (List<string> Pieces, List<float> Scores, List<int> Types) ReadModelProto(byte[] bytes)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        var input = new CodedInputStream(bytes);
        while (input.ReadTag() is var tag and not 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) != 1)
            {
                input.SkipLastField();
                continue;
            }

            var piece = new CodedInputStream(input.ReadBytes().ToByteArray());
            string text = "";
            float score = 0;
            int type = 1;
            while (piece.ReadTag() is var t and not 0)
            {
                switch (WireFormat.GetTagFieldNumber(t))
                {
                    case 1: text = piece.ReadString(); break;
                    case 2: score = piece.ReadFloat(); break;
                    case 3: type = piece.ReadEnum(); break;
                    default: piece.SkipLastField(); break;
                }
            }

            pieces.Add(text);
            scores.Add(score);
            types.Add(type);
        }

        return (pieces, scores, types);
    }
}
