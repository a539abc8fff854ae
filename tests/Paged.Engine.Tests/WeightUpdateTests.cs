using Paged.Models;
using Paged.Models.Hf;
using Paged.Models.Weights;

namespace Paged.Engine.Tests;

/// <summary>
/// Weight updates in place: after an update the engine's outputs are exactly those of a fresh engine loaded with the
/// new weights (tokens and logprob bits), a prompt cached under the old weights is recomputed, the version counts
/// updates, and bad updates are refused with a clear error while the old weights keep serving.
/// </summary>
[TestClass]
public sealed class WeightUpdateTests
{
    private static readonly int[] Prompt = RolloutModel.Prompt(new Random(21), 40);

    private static GenerationRequest Request => new()
    {
        PromptTokenIds = Prompt,
        Sampling = new SamplingParams { Temperature = 0.8f, Seed = 5, Logprobs = 3, MaxTokens = 16, IgnoreEos = true },
    };

    private static string Bits(RequestOutput o) =>
        string.Join(" ", o.Logprobs!.Select(t => $"{t.TokenId}:{BitConverter.SingleToInt32Bits(t.Logprob):x8}"));

    private static string Fresh(string path)
    {
        using var engine = RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 4 }, path);
        return Bits(engine.Generate([Request])[0]);
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow("tensors")]
    [DataRow("safetensors")]
    public void An_update_gives_the_outputs_of_a_fresh_engine_with_the_new_weights(string source)
    {
        string newPath = RolloutModel.Write(2);
        using var engine = RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 4 });
        var before = engine.Generate([Request])[0];
        Assert.AreEqual(0, before.WeightVersion);
        Assert.AreEqual(Fresh(RolloutModel.Path1), Bits(before));
        Assert.IsGreaterThan(0, engine.Generate([Request])[0].CachedPromptTokens, "the prompt is cached under version 0");

        using var weights = Llama2cCheckpoint.Load(newPath);
        int version;
        if (source == "tensors")
            version = engine.UpdateWeights(weights.AllTensors);
        else
        {
            string file = Path.Combine(Path.GetTempPath(), $"paged-update-{Guid.NewGuid():N}.safetensors");
            var writer = new SafetensorsWriter();
            foreach (var t in weights.AllTensors)
                writer.Add(t.Name, WeightDType.F32, t.ToArray(), [.. t.Shape]);
            writer.Save(file);
            try
            {
                version = engine.UpdateWeights(file);
            }
            finally
            {
                File.Delete(file);
            }
        }

        Assert.AreEqual(1, version);
        Assert.AreEqual(1, engine.WeightVersion);
        var after = engine.Generate([Request])[0];
        Assert.AreEqual(1, after.WeightVersion);
        Assert.AreEqual(0, after.CachedPromptTokens, "no prefix computed under the old weights is reused");
        Assert.AreEqual(Fresh(newPath), Bits(after), "exactly the outputs of a fresh engine with the new weights");
        Assert.AreNotEqual(Bits(before), Bits(after), "the new weights change the outputs");
        var again = engine.Generate([Request])[0];
        Assert.IsGreaterThan(0, again.CachedPromptTokens, "blocks computed under the new weights are cached again");
        Assert.AreEqual(Bits(after), Bits(again));
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Bad_updates_are_refused_and_the_old_weights_keep_serving()
    {
        using var engine = RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 4 });
        string expected = Bits(engine.Generate([Request])[0]);
        using var weights = Llama2cCheckpoint.Load(RolloutModel.Write(3));
        var tensors = weights.AllTensors.ToList();

        var unknown = tensors.Append(new WeightTensor("model.extra.weight", new float[3], 3));
        var e = Assert.Throws<ModelFormatException>(() => engine.UpdateWeights(unknown));
        StringAssert.Contains(e.Message, "model.extra.weight");

        var misShaped = tensors.Select(t => t.Name == WeightNames.FinalNorm ? new WeightTensor(t.Name, new float[7], 7) : t);
        e = Assert.Throws<ModelFormatException>(() => engine.UpdateWeights(misShaped));
        StringAssert.Contains(e.Message, "shape");

        var nan = tensors.Select(t => t.Name == WeightNames.FinalNorm ? new WeightTensor(t.Name, [.. t.ToArray().Select((v, i) => i == 3 ? float.NaN : v)], [.. t.Shape]) : t);
        Assert.Throws<ModelFormatException>(() => engine.UpdateWeights(nan));
        Assert.Throws<FileNotFoundException>(() => engine.UpdateWeights("/nonexistent/weights.safetensors"));

        Assert.AreEqual(0, engine.WeightVersion, "failed updates do not count");
        Assert.AreEqual(expected, Bits(engine.Generate([Request])[0]), "the old weights still serve");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task The_async_engine_updates_between_steps_and_reports_the_version()
    {
        using var weights = Llama2cCheckpoint.Load(RolloutModel.Write(2));
        await using var engine = new AsyncEngine(RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 4 }));
        Assert.AreEqual(1, await engine.UpdateWeightsAsync(weights.AllTensors));
        await engine.ResetPrefixCacheAsync();
        RequestOutput? last = null;
        await foreach (var o in engine.GenerateAsync(Request))
            last = o;
        Assert.AreEqual(1, last!.WeightVersion);
        Assert.AreEqual(Fresh(RolloutModel.Write(2)), Bits(last));
        await Assert.ThrowsAsync<ModelFormatException>(() => engine.UpdateWeightsAsync([.. weights.AllTensors.Skip(1), new WeightTensor("lm_head.bias", new float[3], 3)]));
        Assert.IsTrue(engine.IsAlive, "a failed update leaves the loop running");
    }
}
