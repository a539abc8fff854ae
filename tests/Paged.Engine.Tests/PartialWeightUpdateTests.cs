using Paged.Models;
using Paged.Models.Hf;
using Paged.Models.Tests;
using Paged.Models.Weights;

namespace Paged.Engine.Tests;

/// <summary>
/// Partial weight updates: an update naming only some tensors (one layer's q_proj, fused with k and v; another
/// layer's down_proj and norm; Qwen2's q bias, fused with k and v's) gives exactly (tokens and logprob bits) the
/// outputs of a fresh engine loaded from a checkpoint with those tensors replaced, written with the safetensors
/// writer make-model uses: the untouched tensors keep their stored bf16 values, the replaced ones are f32. A bad
/// update (an unknown name, a wrong shape, a NaN) beside good tensors changes nothing.
/// </summary>
[TestClass]
public sealed class PartialWeightUpdateTests
{
    private static readonly int[] Prompt = [1, .. Enumerable.Range(1, 39).Select(i => 3 + (i * 37 % 250))]; // two full blocks: cached

    private static GenerationRequest Request => new()
    {
        PromptTokenIds = Prompt,
        Sampling = new SamplingParams { Temperature = 0.8f, Seed = 9, Logprobs = 3, MaxTokens = 12, IgnoreEos = true },
    };

    private static string Bits(RequestOutput o) =>
        string.Join(" ", o.Logprobs!.Select(t => $"{t.TokenId}:{BitConverter.SingleToInt32Bits(t.Logprob):x8}"));

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow("cpu", "tiny-llama3", "tensors")]
    [DataRow("cpu", "tiny-llama3", "safetensors")]
    [DataRow("cpu", "tiny-qwen2", "tensors")]
    [DataRow("cpu", "tiny-qwen2", "bias-only")]
    [DataRow("simt", "tiny-llama3", "safetensors")]
    public void A_partial_update_equals_a_fresh_engine_on_the_patched_checkpoint(string backend, string model, string source)
    {
        if (!Paged.Runtime.Backend.IsAvailable(backend))
            Assert.Inconclusive($"backend '{backend}' is not built here");
        string dir = Path.Combine(TestPaths.HfTiny, model);
        var options = new EngineOptions { Device = backend, MaxNumSeqs = 4, NumKvBlocks = 64 };
        using var engine = LlmEngine.Create(dir, null, options);
        var before = engine.Generate([Request])[0];
        Assert.IsGreaterThan(0, engine.Generate([Request])[0].CachedPromptTokens, "the prompt is cached under version 0");

        var config = engine.Config;
        // bias-only: the q/k/v matrices stay as they are (in place, bf16) and only the fused bias is rebuilt.
        string[] replaced = source == "bias-only"
            ? [WeightNames.Layer(0, WeightNames.KBias), WeightNames.Layer(config.NumLayers - 1, WeightNames.VBias)]
            :
            [
                WeightNames.Layer(0, WeightNames.QProj), WeightNames.Layer(config.NumLayers - 1, WeightNames.Down),
                WeightNames.Layer(config.NumLayers - 1, WeightNames.FfnNorm),
                .. config.AttentionBias ? [WeightNames.Layer(0, WeightNames.KBias)] : Array.Empty<string>(),
            ];
        string patchedDir = Path.Combine(Path.GetTempPath(), $"paged-partial-{Guid.NewGuid():N}");
        try
        {
            var update = PatchedCheckpoint(dir, patchedDir, replaced);
            int version = source == "safetensors" ? engine.UpdateWeights(UpdateFile(patchedDir, update)) : engine.UpdateWeights(update);
            Assert.AreEqual(1, version);
            var after = engine.Generate([Request])[0];
            Assert.AreEqual(1, after.WeightVersion);
            Assert.AreEqual(0, after.CachedPromptTokens, "no prefix computed under the old weights is reused");
            Assert.AreNotEqual(Bits(before), Bits(after), "the update changes the outputs");
            using var fresh = LlmEngine.Create(patchedDir, null, options);
            Assert.AreEqual(Bits(fresh.Generate([Request])[0]), Bits(after), $"{model} on {backend}: a fresh engine on the patched checkpoint");
        }
        finally
        {
            Directory.Delete(patchedDir, recursive: true);
        }
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void A_bad_tensor_beside_good_ones_changes_nothing()
    {
        string dir = Path.Combine(TestPaths.HfTiny, "tiny-llama3");
        using var engine = LlmEngine.Create(dir, null, new EngineOptions { Device = "cpu", MaxNumSeqs = 4, NumKvBlocks = 64 });
        string expected = Bits(engine.Generate([Request])[0]);
        string q0 = WeightNames.Layer(0, WeightNames.QProj);
        using var loaded = ModelLoader.Load(dir);
        var good = new WeightTensor(q0, [.. loaded.Find(q0)!.ToArray().Select(v => v * 2f)], [.. loaded.Find(q0)!.Shape]);
        var norm = loaded.Find(WeightNames.FinalNorm)!;

        var e = Assert.Throws<ModelFormatException>(() => engine.UpdateWeights([good, new WeightTensor("model.layers.0.mlp.gate.weight", new float[4], 2, 2)]));
        StringAssert.Contains(e.Message, "model.layers.0.mlp.gate.weight is not a weight of this model");
        e = Assert.Throws<ModelFormatException>(() => engine.UpdateWeights([good, new WeightTensor(norm.Name, new float[7], 7)]));
        StringAssert.Contains(e.Message, "shape");
        float[] nan = norm.ToArray();
        nan[5] = float.NaN;
        e = Assert.Throws<ModelFormatException>(() => engine.UpdateWeights([good, new WeightTensor(norm.Name, nan, [.. norm.Shape])]));
        StringAssert.Contains(e.Message, "non-finite");
        e = Assert.Throws<ModelFormatException>(() => engine.UpdateWeights(Array.Empty<WeightTensor>()));
        StringAssert.Contains(e.Message, "no tensor");

        Assert.AreEqual(0, engine.WeightVersion, "failed updates do not count");
        Assert.AreEqual(expected, Bits(engine.Generate([Request])[0]), "the old weights still serve, q_proj included");
    }

    /// <summary>
    /// Writes <paramref name="patchedDir"/>: <paramref name="dir"/>'s files, its safetensors with the tensors
    /// <paramref name="names"/> replaced by new f32 values (the others as stored); returns the replacements.
    /// </summary>
    private static List<WeightTensor> PatchedCheckpoint(string dir, string patchedDir, string[] names)
    {
        Directory.CreateDirectory(patchedDir);
        foreach (string f in Directory.GetFiles(dir).Where(f => Path.GetFileName(f) != HfCheckpoint.SingleFile))
            File.Copy(f, Path.Combine(patchedDir, Path.GetFileName(f)));
        using var loaded = ModelLoader.Load(dir);
        var random = new Random(77);
        var update = new List<WeightTensor>();
        var writer = new SafetensorsWriter();
        foreach (var t in loaded.AllTensors)
        {
            var values = t.ToArray();
            if (names.Contains(t.Name))
            {
                values = [.. values.Select(v => (v * 1.5f) + (float)((random.NextDouble() - 0.5) * 0.05))];
                update.Add(new WeightTensor(t.Name, values, [.. t.Shape]));
            }

            writer.Add(t.Name, names.Contains(t.Name) ? WeightDType.F32 : t.DType, values, [.. t.Shape]);
        }

        writer.Save(Path.Combine(patchedDir, HfCheckpoint.SingleFile));
        Assert.HasCount(names.Length, update);
        return update;
    }

    /// <summary>The replacements alone as a safetensors file (what a trainer pushes to POST /v1/update_weights).</summary>
    private static string UpdateFile(string patchedDir, List<WeightTensor> update)
    {
        var writer = new SafetensorsWriter();
        foreach (var t in update)
            writer.Add(t.Name, WeightDType.F32, t.ToArray(), [.. t.Shape]);
        string file = Path.Combine(patchedDir, "update.safetensors.part");
        writer.Save(file);
        return file;
    }
}
