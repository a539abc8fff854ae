using Paged.Models.Gguf;
using Paged.Models.Weights;
using Paged.Models.Tokenization;

namespace Paged.Models.Tests;

[TestClass]
public sealed class ModelLoadingTests
{
    [TestMethod]
    public void Bin_config_matches_readme()
    {
        var c = ModelLoader.Load(TestPaths.Bin).Config;
        Assert.AreEqual(64, c.Dim);
        Assert.AreEqual(172, c.HiddenDim);
        Assert.AreEqual(5, c.NumLayers);
        Assert.AreEqual(8, c.NumHeads);
        Assert.AreEqual(4, c.NumKvHeads);
        Assert.AreEqual(512, c.VocabSize);
        Assert.AreEqual(512, c.MaxSeqLen);
        Assert.AreEqual(8, c.HeadSize);
        Assert.AreEqual(32, c.KvDim);
        Assert.IsTrue(c.SharedClassifier);
        Assert.AreEqual(RopeStyle.AdjacentPairs, c.RopeStyle);
        Assert.AreEqual((1, 2), (c.BosId, c.EosId));
        Assert.AreEqual("1,2", string.Join(",", c.StopTokenIds.Order()));
    }

    [TestMethod]
    public void Gguf_config_matches_readme()
    {
        var c = ModelLoader.Load(TestPaths.Gguf).Config;
        Assert.AreEqual((64, 172, 5, 8, 4, 512), (c.Dim, c.HiddenDim, c.NumLayers, c.NumHeads, c.NumKvHeads, c.VocabSize));
        Assert.AreEqual(2048, c.MaxSeqLen);
        Assert.AreEqual(1e-5f, c.NormEps);
        Assert.AreEqual(10000f, c.RopeTheta);
        Assert.IsTrue(c.SharedClassifier);
        Assert.AreEqual((1, 2), (c.BosId, c.EosId));
        Assert.AreEqual("1,2", string.Join(",", c.StopTokenIds.Order()));
    }

    [TestMethod]
    public void Bin_and_gguf_weights_are_bitwise_identical()
    {
        var bin = ModelLoader.Load(TestPaths.Bin);
        var gguf = ModelLoader.Load(TestPaths.Gguf);
        Assert.IsTrue(bin.Config.SharedClassifier && gguf.Config.SharedClassifier);
        Assert.IsNull(bin.Find(WeightNames.Classifier));
        Assert.AreSame(bin.Find(WeightNames.Embedding), bin.Classifier);
        var a = bin.AllTensors;
        Assert.HasCount(a.Count, gguf.AllTensors);
        Assert.HasCount(2 + 5 * 9, a);
        foreach (var t in a)
        {
            var other = gguf.Find(t.Name) ?? throw new AssertFailedException($"GGUF lacks {t.Name}");
            CollectionAssert.AreEqual(t.Shape.ToArray(), other.Shape.ToArray(), t.Name);
            var data = t.ToArray();
            Assert.IsTrue(data.AsSpan().SequenceEqual(other.ToArray()), $"tensor {t.Name} differs");
            Assert.IsTrue(data.Any(v => v != 0f), $"tensor {t.Name} is all zeros");
        }
    }

    [TestMethod]
    public void Gguf_file_directory_is_read()
    {
        var g = GgufFile.Open(TestPaths.Gguf);
        Assert.AreEqual(3, g.Version);
        Assert.HasCount(48, g.Tensors);
        Assert.AreEqual(0, g.DataOffset % g.Alignment);
        var embd = g.FindTensor("token_embd.weight")!;
        CollectionAssert.AreEqual(new long[] { 64, 512 }, embd.Shape.ToArray());
        Assert.AreEqual(GgufTensorType.F32, embd.Type);
    }

    [TestMethod]
    public void Tokenizer_loader_finds_tokenizers()
    {
        var bin = ModelLoader.Load(TestPaths.Bin);
        var t1 = TokenizerLoader.Load(TestPaths.Bin, null, bin.Config);
        Assert.AreEqual(512, t1.VocabSize);
        var gguf = ModelLoader.Load(TestPaths.Gguf);
        var t2 = TokenizerLoader.Load(TestPaths.Gguf, null, gguf.Config);
        var t3 = TokenizerLoader.Load(TestPaths.Bin, TestPaths.Gguf, bin.Config);
        var ids = t1.Encode("Once upon a time", true);
        CollectionAssert.AreEqual(ids.ToArray(), t2.Encode("Once upon a time", true).ToArray());
        CollectionAssert.AreEqual(ids.ToArray(), t3.Encode("Once upon a time", true).ToArray());
    }

    [TestMethod]
    public void Random_model_round_trips()
    {
        using var dir = new TempDir();
        var config = new ModelConfig { Dim = 16, HiddenDim = 32, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = 300, MaxSeqLen = 32 };
        string path = dir.File("random.bin");
        RandomModelWriter.WriteLlama2c(path, config, seed: 42);
        Assert.AreEqual(Llama2cCheckpoint.ExpectedFileBytes(config), new FileInfo(path).Length);
        var w = ModelLoader.Load(path);
        Assert.AreEqual(config.Describe(), w.Config.Describe());
        CollectionAssert.AreEqual(new long[] { 300, 16 }, w.Find(WeightNames.Embedding)!.Shape.ToArray());
        CollectionAssert.AreEqual(new long[] { 8, 16 }, w.Find(WeightNames.Layer(1, WeightNames.KProj))!.Shape.ToArray());
        CollectionAssert.AreEqual(new long[] { 16, 32 }, w.Find(WeightNames.Layer(1, WeightNames.Down))!.Shape.ToArray());
        Assert.IsTrue(w.Find(WeightNames.Layer(0, WeightNames.AttnNorm))!.ToArray().All(v => v == 1f) && w.Find(WeightNames.FinalNorm)!.ToArray().All(v => v == 1f));
        foreach (var t in w.AllTensors.Where(t => !t.Name.Contains("norm", StringComparison.Ordinal)))
        {
            var data = t.ToArray();
            Assert.IsTrue(data.All(v => MathF.Abs(v) <= 0.05f), t.Name);
            Assert.IsGreaterThan(data.Length / 2, data.Distinct().Count(), t.Name);
        }

        // Deterministic: same seed, same bytes; another seed differs.
        string again = dir.File("again.bin"), other = dir.File("other.bin");
        RandomModelWriter.WriteLlama2c(again, config, seed: 42);
        RandomModelWriter.WriteLlama2c(other, config, seed: 43);
        CollectionAssert.AreEqual(File.ReadAllBytes(path), File.ReadAllBytes(again));
        CollectionAssert.AreNotEqual(File.ReadAllBytes(path), File.ReadAllBytes(other));

        // The same weights through GGUF load identically.
        string ggufPath = dir.File("random.gguf");
        GgufTestWriter.FromWeights(w).Save(ggufPath);
        var g = ModelLoader.Load(ggufPath);
        Assert.HasCount(w.AllTensors.Count, g.AllTensors);
        foreach (var t in w.AllTensors)
            Assert.IsTrue(t.ToArray().AsSpan().SequenceEqual(g.Find(t.Name)!.ToArray()), t.Name);
    }

    [TestMethod]
    public void Synthetic_tokenizer_loads_and_round_trips()
    {
        using var dir = new TempDir();
        foreach (int vocab in new[] { 300, 2000 })
        {
            string path = dir.File($"tok{vocab}.bin");
            RandomModelWriter.WriteSyntheticTokenizer(path, vocab);
            var t = Llama2cTokenizerFile.Load(path, vocab);
            Assert.AreEqual(vocab, t.VocabSize);
            const string text = "Hello, world! ünïcödé 🙂";
            Assert.AreEqual(text, t.Decode(t.Encode(text, addBos: true)));
        }
    }
}
