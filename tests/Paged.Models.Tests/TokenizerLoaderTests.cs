using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

/// <summary>TokenizerLoader finds a HuggingFace directory's tokenizer.json (directory, file inside it, or explicit path).</summary>
[TestClass]
public sealed class TokenizerLoaderTests
{
    private static ModelConfig Config(int vocab) => new()
    {
        Dim = 64, HiddenDim = 160, NumLayers = 3, NumHeads = 4, NumKvHeads = 2, VocabSize = vocab, MaxSeqLen = 512,
    };

    [TestMethod]
    public void Hf_directory_gets_its_tokenizer_json()
    {
        string dir = Path.Combine(TestPaths.HfTiny, "tiny-llama3");
        var fromDir = TokenizerLoader.Load(dir, null, Config(1276));
        var fromWeights = TokenizerLoader.Load(Path.Combine(dir, "model.safetensors"), null, Config(1276));
        var explicitFile = TokenizerLoader.Load(TestPaths.Bin, Path.Combine(dir, "tokenizer.json"), Config(1276));
        foreach (var t in new[] { fromDir, fromWeights, explicitFile })
        {
            Assert.IsInstanceOfType<HfTokenizer>(t);
            Assert.AreEqual((1276, 0, 4), (t.VocabSize, t.BosId, t.EosId));
        }

        // An embedding padded beyond the tokenizer is fine; fewer rows than tokens is not.
        Assert.AreEqual(1276, TokenizerLoader.Load(dir, null, Config(1280)).VocabSize);
        var e = Assert.ThrowsExactly<ModelFormatException>(() => TokenizerLoader.Load(dir, null, Config(1000)));
        StringAssert.Contains(e.Message, "has 1276 pieces but model");
    }

    [TestMethod]
    public void Directory_without_tokenizer_json_is_refused()
    {
        using var dir = new TempDir();
        var e = Assert.ThrowsExactly<ModelFormatException>(() => TokenizerLoader.Load(dir.Path, null, Config(1276)));
        StringAssert.StartsWith(e.Message, dir.Path);
        StringAssert.Contains(e.Message, "no tokenizer.json");
    }
}
