using Microsoft.ML.Tokenizers;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>
/// tiny-mistral's SentencePiece-style tokenizer.json (Prepend/Replace normalizer, byte fallback) against its
/// tokenizer.model loaded by Microsoft.ML.Tokenizers' LlamaTokenizer (an independent SentencePiece implementation):
/// ids equal on the multilingual corpus, and decoding gives the text back.
/// </summary>
[TestClass]
public sealed class SentencePieceComparisonTests
{
    [TestMethod]
    public void Tokenizer_json_matches_tokenizer_model_on_the_corpus()
    {
        string dir = Path.Combine(TestPaths.HfTiny, "tiny-mistral");
        using var model = File.OpenRead(Path.Combine(dir, "tokenizer.model"));
        var reference = LlamaTokenizer.Create(model, addBeginOfSentence: true, addEndOfSentence: false);
        var ours = HfTokenizerLoader.Load(dir);

        int byteTokens = 0;
        foreach (string line in MultilingualCorpus.Lines.Where(l => !l.Contains("<|", StringComparison.Ordinal)))
        {
            // LlamaTokenizer encodes "" to nothing, not even BOS; transformers gives [BOS], as we do.
            int[] expected = line.Length == 0 ? [ours.BosId] : [.. reference.EncodeToIds(line)];
            int[] actual = [.. ours.Encode(line, addBos: true)];
            CollectionAssert.AreEqual(expected, actual, $"\"{line}\"");
            Assert.AreEqual(line, ours.Decode(actual), $"round trip \"{line}\" (the decoder drops the dummy prefix only)");
            byteTokens += actual.Count(id => ours.PieceType(id) == TokenPieceType.Byte);
        }

        Assert.IsTrue(byteTokens > 100, $"the corpus should exercise byte fallback, but only {byteTokens} byte tokens were produced");
    }
}
