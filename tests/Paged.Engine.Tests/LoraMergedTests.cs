using Paged.Models;
using Paged.Models.Lora;
using Paged.Models.Tests;
using Paged.Models.Tokenization;
using Paged.Models.Weights;

namespace Paged.Engine.Tests;

/// <summary>
/// The LoRA path (base matmul + lora op per token) against an independent computation inside the engine: the same
/// base model with the adapter merged into its weights on the host (W + scale B A, in double, then fp32), run as a
/// plain model with no adapter. Greedy ids must be equal and logprobs equal within 2e-5 (only the summation order
/// of the delta differs: fp32 sums of <= 160 + 16 terms on values O(1); observed 1.7e-5 over 20 steps). f32 slots:
/// the adapter's exact values, as merged (auto would pick bf16 here, the base projections being bf16 on the CPU).
/// </summary>
[TestClass]
public sealed class LoraMergedTests
{
    private static string Model => Path.Combine(TestPaths.HfTiny, "tiny-llama3");

    [TestMethod]
    [DataRow("lora-a")]
    [DataRow("lora-b")]
    public void Adapter_equals_merged_weights(string lora)
    {
        var options = new EngineOptions { Device = "cpu", MaxNumSeqs = 8, MaxLoras = 1, NumKvBlocks = 64, LoraDType = LoraDType.F32 };
        var rows = HfReferenceRow.Load("tiny-llama3", lora);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 20, Logprobs = 5 };
        IReadOnlyList<RequestOutput> withAdapter, merged;
        using (var engine = LlmEngine.Create(Model, null, options))
        {
            engine.Adapters.Load(lora, Path.Combine(TestPaths.HfTiny, $"tiny-llama3-{lora}"));
            withAdapter = engine.Generate([.. rows.Select(r => new GenerationRequest { PromptTokenIds = r.PromptIds, Sampling = sampling, Lora = lora })]);
        }

        using (var weights = MergedWeights(lora))
        using (var engine = new LlmEngine(weights, TokenizerLoader.Load(Model, null, weights.Config), options with { MaxLoras = 0 }))
            merged = engine.Generate([.. rows.Select(r => new GenerationRequest { PromptTokenIds = r.PromptIds, Sampling = sampling })]);

        for (int i = 0; i < rows.Count; i++)
        {
            CollectionAssert.AreEqual(merged[i].TokenIds.ToArray(), withAdapter[i].TokenIds.ToArray(), $"row {i}: ids");
            for (int s = 0; s < merged[i].TokenIds.Count; s++)
                Assert.AreEqual(merged[i].Logprobs![s].Logprob, withAdapter[i].Logprobs![s].Logprob, 2e-5, $"row {i} step {s}: logprob merged {merged[i].Logprobs![s].Logprob} adapter {withAdapter[i].Logprobs![s].Logprob}");
        }
    }

    /// <summary>The base weights with <paramref name="lora"/> folded in (fp32 tensors in memory).</summary>
    internal static ModelWeights MergedWeights(string lora)
    {
        var baseWeights = ModelLoader.Load(Model);
        var config = baseWeights.Config;
        var adapter = LoraAdapterLoader.Load(lora, Path.Combine(TestPaths.HfTiny, $"tiny-llama3-{lora}"), config, 64);
        var targets = LoraTarget.For(config);
        var tensors = new List<WeightTensor>();
        foreach (var t in baseWeights.AllTensors)
        {
            var data = t.ToArray();
            for (int l = 0; l < config.NumLayers; l++)
            {
                for (int ti = 0; ti < targets.Count; ti++)
                {
                    var target = targets[ti];
                    if (t.Name != $"model.layers.{l}.{target.Block}.{target.Module}.weight" || adapter.A(l, ti) is not { } a)
                        continue;
                    var bt = adapter.BTransposed(l, ti)!;
                    for (int n = 0; n < target.N; n++)
                    {
                        for (int k = 0; k < target.K; k++)
                        {
                            double delta = 0;
                            for (int r = 0; r < adapter.Rank; r++)
                                delta += (double)bt[(r * target.N) + n] * a[(r * target.K) + k];
                            data[(n * target.K) + k] = (float)(data[(n * target.K) + k] + (adapter.Scale * delta));
                        }
                    }
                }
            }

            tensors.Add(new WeightTensor(t.Name, data, [.. t.Shape]));
        }

        return new ModelWeights(config, baseWeights.SourcePath, tensors, [baseWeights]);
    }
}
