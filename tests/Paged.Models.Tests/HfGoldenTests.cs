using System.Globalization;
using Paged.Runtime;

namespace Paged.Models.Tests;

/// <summary>
/// The hf-tiny checkpoints against transformers (../shared/golden/hf_tiny_reference.jsonl, rows without an adapter):
/// the reference prompt ids fed directly, greedy ids equal up to the first near-tie (margin below 1e-3) and up to
/// the first EOS, and the first three steps' top-5 logprobs within <see cref="LogprobTolerance"/>; on cpu and on simt
/// (the CUDA kernels under the emulator). All prompts of a model run together, one batch per step.
/// </summary>
[TestClass]
public sealed class HfGoldenTests
{
    /// <summary>
    /// Absolute logprob tolerance. The reference computed in fp32 from the same stored weights; only summation order
    /// differs (GEMM blocking, attention, RMSNorm, softmax). Each dot product has at most 160 terms, so its relative
    /// error is about 160 x 2^-24 ~ 1e-5 of magnitudes ~1; through 3 layers and a log-softmax over logits of size
    /// ~10 that is ~1e-4 absolute (observed: at most 3.3e-5). 5e-4 leaves margin, yet an fp32 instead of a
    /// bf16-rounded RoPE table (see <see cref="RopeFrequencies"/>) already moves logprobs by up to 1.4e-2, so real
    /// errors (a wrong frequency, a missing bias or norm) cannot pass.
    /// </summary>
    private const double LogprobTolerance = 5e-4;

    public static IEnumerable<object[]> Cases =>
        from model in new[] { "tiny-llama3", "tiny-qwen2", "tiny-qwen3", "tiny-mistral" }
        from backend in new[] { "cpu", "simt" }
        select new object[] { model, backend };

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void Greedy_ids_and_first_logprobs_match_transformers(string model, string backend)
    {
        if (!Backend.IsAvailable(backend))
            Assert.Inconclusive($"backend '{backend}' is not built here");
        var rows = HfReferenceRow.Load(model);
        Assert.HasCount(7, rows);
        var eos = Paged.Models.Hf.HfConfig.Read(SafetensorsTestFiles.Tiny(model)).StopTokenIds;
        var results = GreedyDecoder.Run(backend, SafetensorsTestFiles.Tiny(model), [.. rows.Select(r => r.PromptIds)], maxTokens: 40, logprobSteps: 3);
        double worst = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var actual = results[i];
            int firstEos = Array.FindIndex(row.OutputIds, eos.Contains);
            int n = Math.Min(row.TrustedPrefix, firstEos < 0 ? row.OutputIds.Length : firstEos + 1);
            CollectionAssert.AreEqual(row.OutputIds[..n], actual.Tokens[..n], $"{model} row {i} ({row.Kind}) on {backend}: first {n} ids");
            for (int step = 0; step < row.TopLogprobs.Length && step <= Math.Min(n, 2); step++)
            {
                foreach (var (id, expected) in row.TopLogprobs[step])
                {
                    double diff = Math.Abs(actual.FirstStepLogprobs[step][id] - expected);
                    worst = Math.Max(worst, diff);
                    Assert.IsLessThanOrEqualTo(LogprobTolerance, diff, string.Create(CultureInfo.InvariantCulture,
                        $"{model} row {i} step {step} id {id}: logprob {actual.FirstStepLogprobs[step][id]} vs reference {expected}"));
                }
            }
        }

        Console.WriteLine($"{model} on {backend}: largest logprob difference {worst:E2}");
    }

    [TestMethod]
    public void Mistral_rows_depend_on_the_sliding_window()
    {
        // Control: the window matters for these rows (prompt + 40 tokens exceed 24), so the test above checks it.
        var rows = HfReferenceRow.Load("tiny-mistral");
        var full = GreedyDecoder.Run("cpu", SafetensorsTestFiles.Tiny("tiny-mistral"), [.. rows.Select(r => r.PromptIds)], 40, 0,
            w => new ModelWeights(w.Config with { SlidingWindow = 0 }, w.SourcePath, w.AllTensors));
        int differing = rows.Where((r, i) => !r.OutputIds.AsSpan(0, r.TrustedPrefix).SequenceEqual(full[i].Tokens.AsSpan(0, r.TrustedPrefix))).Count();
        Assert.IsGreaterThan(0, differing, "without the window some row must leave the reference");
    }

    [TestMethod]
    [DataRow("tiny-llama3")]
    [DataRow("tiny-qwen2")]
    public void Simt_keeps_half_weights_and_tables(string model)
    {
        // cuda/simt (DeviceWeightDTypes): a bf16 checkpoint's projections, embedding table and classifier stay bf16 on
        // the device (half the bytes of fp32; the embedding widens rows into the fp32 activations). The golden rows
        // above then check the simt results of those half weights against transformers.
        if (!Backend.IsAvailable("simt"))
            Assert.Inconclusive("backend 'simt' is not built here");
        using var ctx = Backend.Load("simt").CreateContext();
        using var loaded = ModelLoader.Load(SafetensorsTestFiles.Tiny(model));
        using var m = (Decoders.DecoderModel)ModelRegistry.Create(ctx, loaded, new ModelCapacity(4, 1, 1));
        var w = m.Weights;
        var bf16 = Runtime.Interop.DType.BF16;
        foreach (var layer in w.Layers)
            Assert.AreEqual((bf16, bf16, bf16, bf16), (layer.Qkv.WDType, layer.O.WDType, layer.GateUp.WDType, layer.Down.WDType), "bf16 kept on simt");
        Assert.AreEqual(bf16, w.TokenEmbeddingDType, "embedding table kept on simt");
        Assert.AreEqual(bf16, w.LmHead.WDType, "classifier");

        // Device memory: the same checkpoint widened to fp32 on the host takes 2 more bytes per half weight kept.
        using var wide = new ModelWeights(loaded.Config, loaded.SourcePath, loaded.AllTensors.Select(t => new Weights.WeightTensor(t.Name, t.ToArray(), [.. t.Shape])));
        using var f32 = (Decoders.DecoderModel)ModelRegistry.Create(ctx, wide, new ModelCapacity(4, 1, 1));
        long halfElements = w.Layers.Sum(l => ((long)l.Qkv.N * l.Qkv.K) + ((long)l.O.N * l.O.K) + ((long)l.GateUp.N * l.GateUp.K) + ((long)l.Down.N * l.Down.K))
            + ((long)loaded.Config.VocabSize * loaded.Config.Dim * (loaded.Config.SharedClassifier ? 1 : 2)); // table (+ untied classifier)
        Assert.AreEqual(f32.Weights.DeviceBytes - (2 * halfElements), w.DeviceBytes, "device bytes of the bf16 model");
    }

    [TestMethod]
    public void Cpu_half_weights_in_place_give_the_widened_results_exactly()
    {
        // On cpu a bf16 checkpoint's projections stay bf16 and the GEMM widens them in registers with the fp32 path's
        // summation order: logits must equal those from the same weights widened to fp32 on the host, bit for bit.
        using (var ctx = Backend.Load("cpu").CreateContext())
        using (var loaded = ModelLoader.Load(SafetensorsTestFiles.Tiny("tiny-qwen2")))
        using (var model = (Decoders.DecoderModel)ModelRegistry.Create(ctx, loaded, new ModelCapacity(4, 1, 1)))
        {
            var layer = model.Weights.Layers[0];
            Assert.AreEqual((Runtime.Interop.DType.BF16, Runtime.Interop.DType.BF16), (layer.Qkv.WDType, layer.Down.WDType), "bf16 kept on cpu");
        }

        var rows = HfReferenceRow.Load("tiny-qwen2");
        int[][] prompts = [.. rows.Select(r => r.PromptIds)];
        var half = GreedyDecoder.Run("cpu", SafetensorsTestFiles.Tiny("tiny-qwen2"), prompts, 8, 8);
        var widened = GreedyDecoder.Run("cpu", SafetensorsTestFiles.Tiny("tiny-qwen2"), prompts, 8, 8,
            w => new ModelWeights(w.Config, w.SourcePath, w.AllTensors.Select(t => new Weights.WeightTensor(t.Name, t.ToArray(), [.. t.Shape]))));
        for (int i = 0; i < prompts.Length; i++)
        {
            CollectionAssert.AreEqual(widened[i].Tokens, half[i].Tokens, $"row {i}");
            for (int step = 0; step < 8; step++)
                CollectionAssert.AreEqual(widened[i].FirstStepLogprobs[step], half[i].FirstStepLogprobs[step], $"row {i} step {step}");
        }
    }
}
