using Paged.Models.Gguf;
using Paged.Models.Hf;
using Paged.Models.Weights;

namespace Paged.Models.Tests;

/// <summary>The checkpoint writers (what <c>paged make-model</c> runs): conversions and random models of a given shape.</summary>
[TestClass]
public sealed class HfExportTests
{
    [TestMethod]
    public void Stories260K_exported_to_hf_reproduces_the_reference_tokens()
    {
        // llama2.c rotates adjacent pairs; the export permutes q and k rows as HF's converter does and the checkpoint
        // then runs with rotate-half RoPE, so the run.c reference tokens must come out again.
        using var dir = new TempDir();
        using (var source = ModelLoader.Load(TestPaths.Bin))
        {
            var (config, tensors) = HfExport.FromWeights(source);
            HfCheckpointWriter.Write(dir.Path, config, tensors, WeightDType.F32);
        }

        using (var exported = ModelLoader.Load(dir.Path))
        {
            Assert.AreEqual(RopeStyle.RotateHalf, exported.Config.RopeStyle);
            Assert.AreEqual((64, 8, 4, 512), (exported.Config.Dim, exported.Config.NumHeads, exported.Config.NumKvHeads, exported.Config.VocabSize));
        }

        var golden = Golden.Load();
        var margins = GoldenMargins();
        int maxTokens = golden.Max(g => g.OutputIds.Length);
        var results = GreedyDecoder.Run("cpu", dir.Path, [.. golden.Select(g => g.PromptIds)], maxTokens, logprobSteps: 0);
        for (int i = 0; i < golden.Count; i++)
        {
            int n = Array.FindIndex(margins[i], m => m < 1e-3);
            n = n < 0 ? golden[i].OutputIds.Length : n;
            CollectionAssert.AreEqual(golden[i].OutputIds[..n], results[i].Tokens[..n], $"'{golden[i].Prompt}': first {n} tokens");
        }
    }

    [TestMethod]
    public void Permutation_moves_adjacent_pairs_to_halves()
    {
        // Head size 8: source rows (0,1) (2,3) (4,5) (6,7) are pairs; rotate-half pairs rows (0,4) (1,5) (2,6) (3,7).
        long[] expected = [0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15];
        CollectionAssert.AreEqual(expected, Enumerable.Range(0, 16).Select(r => HfExport.SourceRow(r, 8)).ToArray());
    }

    private static ModelConfig Tiny(string architecture) => new()
    {
        Architecture = architecture, Dim = 32, HiddenDim = 48, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, HeadDim = 16,
        VocabSize = 300, MaxSeqLen = 64, RopeStyle = RopeStyle.RotateHalf, RopeTheta = 1e6f, NormEps = 1e-6f,
        AttentionBias = architecture == "Qwen2ForCausalLM", QkNorm = architecture == "Qwen3ForCausalLM",
        SlidingWindow = architecture == "MistralForCausalLM" ? 8 : 0, SharedClassifier = architecture != "MistralForCausalLM",
        BosId = 1, EosId = 2, StopTokenIds = [2, 7],
        RopeScaling = architecture == "LlamaForCausalLM"
            ? new RopeScaling { Type = RopeScalingType.Llama3, Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 16 }
            : RopeScaling.None,
        Generation = new GenerationDefaults { Temperature = 0.6f, TopP = 0.9f },
    };

    [TestMethod]
    [DataRow("LlamaForCausalLM", WeightDType.BF16)]
    [DataRow("Qwen2ForCausalLM", WeightDType.F16)]
    [DataRow("Qwen3ForCausalLM", WeightDType.F32)]
    [DataRow("MistralForCausalLM", WeightDType.BF16)]
    public void Random_hf_checkpoint_round_trips_config_and_runs(string architecture, WeightDType dtype)
    {
        using var dir = new TempDir();
        var config = Tiny(architecture);
        HfCheckpointWriter.Write(dir.Path, config, HfExport.Random(config, seed: 7), dtype);
        var read = HfConfig.Read(dir.Path);
        CollectionAssert.AreEqual(new[] { 2, 7 }, read.StopTokenIds.ToArray());
        Assert.AreEqual(config with { DType = dtype, StopTokenIds = read.StopTokenIds }, read);
        using (var w = ModelLoader.Load(dir.Path))
        {
            Assert.IsTrue(w.AllTensors.All(t => t.DType == dtype));
            var up = w.Find(WeightNames.Layer(1, WeightNames.Up))!.ToArray();
            Assert.IsTrue(up.All(v => MathF.Abs(v) <= 0.0501f) && up.Distinct().Count() > up.Length / 4, "uniform random weights");
            Assert.IsTrue(w.Find(WeightNames.FinalNorm)!.ToArray().All(v => v == 1f));
        }

        var tokens = GreedyDecoder.Run("cpu", dir.Path, [[1, 5, 9], [1, 20]], maxTokens: 12, logprobSteps: 0);
        Assert.IsTrue(tokens.All(r => r.Tokens.Length == 12 && r.Tokens.All(t => t >= 0 && t < 300)));
    }

    [TestMethod]
    public void Gguf_writer_round_trips_random_weights_of_every_architecture()
    {
        using var dir = new TempDir();
        foreach (string arch in new[] { "LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM" })
        {
            var config = Tiny(arch) with { RopeScaling = RopeScaling.None };
            var tensors = HfExport.Random(config, seed: 3);
            string path = dir.File(arch + ".gguf");
            GgufModelWriter.Write(path, config, tensors, WeightDType.F32);
            using var w = ModelLoader.Load(path);
            Assert.AreEqual(arch, w.Config.Architecture);
            Assert.AreEqual((config.AttentionBias, config.QkNorm, config.SlidingWindow, config.HeadSize), (w.Config.AttentionBias, w.Config.QkNorm, w.Config.SlidingWindow, w.Config.HeadSize), arch);
            foreach (var t in tensors)
            {
                var expected = new float[t.Shape.Aggregate(1L, (a, b) => a * b)];
                t.Fill(0, expected);
                var loaded = w.Find(t.Name) ?? throw new AssertFailedException($"{arch}: {t.Name} missing");
                CollectionAssert.AreEqual(t.Shape, loaded.Shape.ToArray(), t.Name);
                CollectionAssert.AreEqual(expected, loaded.ToArray(), t.Name);
            }
        }
    }

    /// <summary>The reference's top-2 margins per prompt (not in <see cref="GoldenCase"/>).</summary>
    private static double[][] GoldenMargins() =>
        [.. File.ReadLines(TestPaths.Golden).Where(l => !string.IsNullOrWhiteSpace(l)).Select(l =>
        {
            using var doc = System.Text.Json.JsonDocument.Parse(l);
            return doc.RootElement.GetProperty("top2_logit_margins").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        })];
}
