using Paged.Models;
using Paged.Models.Tests;
using Paged.Models.Tokenization;

namespace Paged.Engine.Tests;

/// <summary>
/// Decode steps through captured graphs (--cuda-graphs on) on simt, where the emulator records and replays the
/// launch list: every output -- tokens and logprob bits -- equals the eager engine's (graphs off) and the golden
/// reference, through batches padded to their bucket, batches that change size every step, forks, preemption and a
/// weight update; each replayed decode step is one graph launch plus eager sampling.
/// </summary>
[TestClass]
public sealed class CudaGraphEngineTests
{
    private static EngineOptions Options(CudaGraphMode graphs) => new() { Device = "simt", MaxNumSeqs = 8, CudaGraphs = graphs };

    private static string Bits(RequestOutput o) => string.Join(" | ", o.Completions.Select(c =>
        string.Join(" ", c.TokenIds) + " : " + string.Join(" ", (c.Logprobs ?? []).Select(t =>
            $"{t.TokenId}={BitConverter.SingleToInt32Bits(t.Logprob):x8}/" + string.Join(",", t.Top.Select(p => $"{p.TokenId}={BitConverter.SingleToInt32Bits(p.Logprob):x8}"))))));

    private static void AssertSameOutputs(IReadOnlyList<RequestOutput> eager, IReadOnlyList<RequestOutput> graphed, string how)
    {
        Assert.HasCount(eager.Count, graphed, how);
        for (int i = 0; i < eager.Count; i++)
            Assert.AreEqual(Bits(eager[i]), Bits(graphed[i]), $"{how}: request {i} differs between eager and graph replay");
    }

    private static IReadOnlyList<RequestOutput> Run(EngineOptions o, IReadOnlyList<(string Prompt, SamplingParams Sampling)> requests, out EngineCounters counters, out Paged.Runtime.Interop.BackendCounters backend)
    {
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, o);
        var result = engine.Generate(requests);
        counters = engine.Counters;
        backend = engine.BackendCounters;
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, $"no KV block leaks ({o})");
        return result;
    }

    [TestInitialize]
    public void RequireSimt() => DeviceEndToEndTests.RequireDevice("simt");

    // All 8 golden prompts at once: sequences finish at different steps, so the decode batch shrinks through the
    // buckets 8, 4, 2, 1 (padded in between).
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void GoldenPrompts_Greedy_ReplayEqualsEagerAndTheReference()
    {
        var golden = GoldenTests.LoadGolden();
        var requests = GoldenTests.Requests(golden);
        var eager = Run(Options(CudaGraphMode.Off), requests, out _, out var eagerCounters);
        var graphed = Run(Options(CudaGraphMode.On), requests, out _, out var graphCounters);
        Assert.AreEqual(0L, eagerCounters.GraphReplays, "off means eager");
        Assert.IsGreaterThan(50L, graphCounters.GraphReplays, "decode steps replay graphs");
        AssertSameOutputs(eager, graphed, "golden greedy");
        for (int i = 0; i < golden.Count; i++)
            GoldenTests.AssertMatchesGolden(golden[i], graphed[i], "simt with graphs");
    }

    // Seeded sampling with n > 1 (copy-on-write forks) and prefix-cache sharing.
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void SeededForks_ReplayEqualsEager()
    {
        const string stem = "Once upon a time, there was a little girl named Lily. She loved to";
        var requests = new List<(string, SamplingParams)>
        {
            (stem, new SamplingParams { MaxTokens = 24, Temperature = 1.0f, MinP = 0.05f, Seed = 9, RepetitionPenalty = 1.2f, Logprobs = 2 }),
            (stem + " play", new SamplingParams { MaxTokens = 20, Temperature = 0.9f, TopP = 0.95f, Seed = 7, N = 3, Logprobs = 1 }),
            (stem + " run", new SamplingParams { MaxTokens = 28, Temperature = 0.7f, TopK = 20, Seed = 8, N = 2, Logprobs = 3 }),
        };
        var eager = Run(Options(CudaGraphMode.Off) with { BlockSize = 4 }, requests, out _, out _);
        var graphed = Run(Options(CudaGraphMode.On) with { BlockSize = 4 }, requests, out var counters, out var backend);
        Assert.IsGreaterThan(0L, counters.BlockCopies, "the forks copy blocks");
        Assert.IsGreaterThan(0L, backend.GraphReplays);
        AssertSameOutputs(eager, graphed, "seeded forks");
    }

    // Requests arrive while others decode and finish after different lengths: the batch size changes almost every
    // step (1, 2, 3, ... 7 and back), crossing the buckets 1, 2, 4, 8 both ways; a request that arrives mid-run is
    // prefilled in a mixed step, which runs eagerly.
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void ABatchThatChangesSizeEveryStep_ReplayEqualsEager()
    {
        var random = new Random(5);
        var prompts = Enumerable.Range(0, 7).Select(i => Enumerable.Range(0, 3 + i).Select(_ => random.Next(3, 512)).Prepend(1).ToArray()).ToList();
        string Drive(CudaGraphMode mode, out Paged.Runtime.Interop.BackendCounters backend)
        {
            using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, Options(mode));
            var outputs = new Dictionary<long, RequestOutput>();
            for (int i = 0; i < prompts.Count; i++)
            {
                engine.AddRequest(new GenerationRequest
                {
                    PromptTokenIds = prompts[i],
                    Sampling = new SamplingParams { MaxTokens = 4 + (5 * i % 11), Temperature = 0.8f, Seed = (ulong)i, Logprobs = 2, IgnoreEos = true },
                });
                foreach (var o in engine.Step().Concat(engine.Step()))
                {
                    if (o.Finished)
                        outputs[o.RequestId] = o;
                }
            }

            RolloutModel.Drain(engine, outputs);
            backend = engine.BackendCounters;
            Assert.HasCount(prompts.Count, outputs);
            return string.Join("\n", outputs.OrderBy(kv => kv.Key).Select(kv => Bits(kv.Value)));
        }

        string eager = Drive(CudaGraphMode.Off, out _);
        string graphed = Drive(CudaGraphMode.On, out var counters);
        Assert.IsGreaterThan(5L, counters.GraphReplays, "decode steps of several sizes replay");
        Assert.AreEqual(eager, graphed);
    }

    // Memory pressure in the middle of decoding: swap and recompute preemption move and recompute blocks between
    // replays; the outputs stay those of the eager engine under the same pressure.
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    [DataRow(PreemptionMode.Swap)]
    [DataRow(PreemptionMode.Recompute)]
    public void Preemption_ReplayEqualsEager(PreemptionMode mode)
    {
        var golden = GoldenTests.LoadGolden();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = 40, N = 2, Logprobs = 1 })).ToList();
        EngineOptions o(CudaGraphMode g) => Options(g) with { MaxNumSeqs = 16, NumKvBlocks = 24, Preemption = mode, MaxNumBatchedTokens = 32 };
        var eager = Run(o(CudaGraphMode.Off), requests, out _, out _);
        var graphed = Run(o(CudaGraphMode.On), requests, out var counters, out var backend);
        Assert.IsGreaterThan(0L, counters.Preemptions, $"{mode}: 24 blocks cannot hold 16 sequences");
        Assert.IsGreaterThan(0L, backend.GraphReplays);
        AssertSameOutputs(eager, graphed, $"{mode} preemption");
    }

    // One sequence: the first decode step runs eagerly (sizing scratch), the second captures and replays, every later
    // one is exactly one graph launch plus the eager sampling launches, and one wait.
    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void EachReplayedDecodeStep_IsOneGraphLaunchPlusSampling()
    {
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, Options(CudaGraphMode.On));
        engine.AddRequest(new GenerationRequest { PromptTokenIds = [1, 400, 30], Sampling = new SamplingParams { MaxTokens = 12, IgnoreEos = true } });
        var perStep = new List<Paged.Runtime.Interop.BackendCounters>();
        while (engine.HasUnfinishedRequests)
        {
            var before = engine.BackendCounters;
            engine.Step();
            perStep.Add(engine.BackendCounters.Since(before));
        }

        Assert.HasCount(12, perStep, "one prefill step and 11 decode steps");
        Assert.AreEqual(0L, perStep[0].GraphReplays + perStep[1].GraphReplays, "prefill and the bucket's first decode step run eagerly");
        long eagerLaunches = perStep[1].Launches;
        foreach (var step in perStep.Skip(2))
        {
            Assert.AreEqual(1L, step.GraphReplays, "a decode step is one graph replay");
            Assert.AreEqual(1L, step.HostSyncs, "and one wait (the sampled tokens)");
            Assert.AreEqual(perStep[2].Launches, step.Launches, "every replayed step launches the same");
        }

        long sampling = perStep[2].Launches - 1;
        Assert.IsLessThan(eagerLaunches / 4, sampling + 1, $"eager decode step: {eagerLaunches} launches; replayed: 1 graph + {sampling} sampling");
    }

    // A weight update drops the graphs (they name the old buffers, which are freed: a replay would fail in the
    // emulator); the next decode steps capture again and give the new weights' outputs.
    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void AWeightUpdate_RecapturesAndGivesTheNewWeightsOutputs()
    {
        var request = new GenerationRequest
        {
            PromptTokenIds = RolloutModel.Prompt(new Random(3), 12),
            Sampling = new SamplingParams { Temperature = 0.8f, Seed = 5, Logprobs = 2, MaxTokens = 10, IgnoreEos = true },
        };
        string newPath = RolloutModel.Write(2);
        string Fresh(string path)
        {
            using var fresh = RolloutModel.Engine("simt", new EngineOptions { MaxNumSeqs = 4, CudaGraphs = CudaGraphMode.Off }, path);
            return Bits(fresh.Generate([request])[0]);
        }

        using var engine = RolloutModel.Engine("simt", new EngineOptions { MaxNumSeqs = 4, CudaGraphs = CudaGraphMode.On });
        Assert.AreEqual(Fresh(RolloutModel.Path1), Bits(engine.Generate([request])[0]));
        long replays = engine.BackendCounters.GraphReplays;
        Assert.IsGreaterThan(0L, replays);
        using (var weights = Llama2cCheckpoint.Load(newPath))
            engine.UpdateWeights(weights.AllTensors);
        Assert.AreEqual(Fresh(newPath), Bits(engine.Generate([request])[0]), "after the update: the new weights' outputs");
        Assert.IsGreaterThan(replays, engine.BackendCounters.GraphReplays, "decode steps replay (recaptured) graphs again");
    }

    // Batch invariant: decode steps use the prefill attention kernel, whose tile list lives in the context's scratch.
    // A long prompt arriving mid-run makes the scratch grow; the bucket-1 graph captured before still names the old
    // scratch, which the backend keeps while graphs live (the emulator would reject a freed one at replay).
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void BatchInvariant_ScratchGrowthBetweenReplays_ReplayEqualsEager()
    {
        var random = new Random(8);
        int[] shortPrompt = [1, 300, 42, 77];
        int[] longPrompt = [1, .. Enumerable.Range(0, 200).Select(_ => random.Next(3, 512))];
        string Drive(CudaGraphMode mode, out Paged.Runtime.Interop.BackendCounters backend)
        {
            using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, Options(mode) with { BatchInvariant = true });
            var sampling = new SamplingParams { Temperature = 0, Logprobs = 2, IgnoreEos = true };
            engine.AddRequest(new GenerationRequest { PromptTokenIds = shortPrompt, Sampling = sampling with { MaxTokens = 30 } });
            var outputs = new Dictionary<long, RequestOutput>();
            for (int i = 0; i < 6; i++) // the short request decodes alone: bucket 1 is captured and replayed
                engine.Step();
            engine.AddRequest(new GenerationRequest { PromptTokenIds = longPrompt, Sampling = sampling with { MaxTokens = 4 } });
            RolloutModel.Drain(engine, outputs); // the long one finishes first; bucket 1 replays again after it
            backend = engine.BackendCounters;
            return string.Join("\n", outputs.OrderBy(kv => kv.Key).Select(kv => Bits(kv.Value)));
        }

        string eager = Drive(CudaGraphMode.Off, out _);
        string graphed = Drive(CudaGraphMode.On, out var counters);
        Assert.AreEqual(eager, graphed);
        Assert.IsGreaterThan(10L, counters.GraphReplays);
    }

    // Adapters and the base model in one batch, with one LoRA slot the two adapters take turns in (the slot is
    // rewritten in place between replays): whether a step has adapters is part of a graph's key, the slot contents
    // are read at replay. Outputs equal the eager engine's.
    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void LoraSlotChanges_ReplayEqualsEager()
    {
        string model = Path.Combine(TestPaths.HfTiny, "tiny-llama3");
        var rows = HfReferenceRow.Load("tiny-llama3");
        string Drive(CudaGraphMode mode, out Paged.Runtime.Interop.BackendCounters backend)
        {
            using var weights = LoraGoldenTests.Fp32(ModelLoader.Load(model));
            using var engine = new LlmEngine(weights, TokenizerLoader.Load(model, null, weights.Config), new EngineOptions
            {
                Device = "simt", MaxNumSeqs = 8, MaxLoras = 1, MaxLoraRank = 16, NumKvBlocks = 128, CudaGraphs = mode,
            });
            engine.Adapters.Load("lora-a", Path.Combine(TestPaths.HfTiny, "tiny-llama3-lora-a"));
            engine.Adapters.Load("lora-b", Path.Combine(TestPaths.HfTiny, "tiny-llama3-lora-b"));
            string?[] loras = [null, "lora-a", "lora-b"];
            var requests = rows.Take(6).Select((r, i) => new GenerationRequest
            {
                PromptTokenIds = r.PromptIds, Lora = loras[i % 3],
                Sampling = new SamplingParams { Temperature = 0, MaxTokens = 12, Logprobs = 2, IgnoreEos = true },
            }).ToList();
            var outputs = engine.Generate(requests);
            backend = engine.BackendCounters;
            return string.Join("\n", outputs.Select(Bits));
        }

        string eager = Drive(CudaGraphMode.Off, out _);
        string graphed = Drive(CudaGraphMode.On, out var counters);
        Assert.IsGreaterThan(0L, counters.GraphReplays);
        Assert.AreEqual(eager, graphed);
    }

    // --cuda-graphs on with the cpu backend: no graphs (unsupported), the engine runs eagerly and gives the same tokens.
    [TestMethod]
    public void OnTheCpuBackend_GraphsOnRunsEagerly()
    {
        var requests = GoldenTests.Requests(GoldenTests.LoadGolden().Take(2));
        var eager = Run(new EngineOptions { MaxNumSeqs = 8, CudaGraphs = CudaGraphMode.Off }, requests, out _, out _);
        var on = Run(new EngineOptions { MaxNumSeqs = 8, CudaGraphs = CudaGraphMode.On }, requests, out _, out var backend);
        Assert.AreEqual(0L, backend.GraphReplays);
        AssertSameOutputs(eager, on, "cpu");
    }

    [TestMethod]
    public void CaptureSizes_AreVllmsDefaults()
    {
        CollectionAssert.AreEqual(new[] { 1 }, CudaGraphModes.CaptureSizes(1).ToArray());
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 6 }, CudaGraphModes.CaptureSizes(6).ToArray());
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 8, 16, 24, 32, 40 }, CudaGraphModes.CaptureSizes(40).ToArray());
        CollectionAssert.AreEqual(new[] { 1, 2, 4, 8, 16, 20 }, CudaGraphModes.CaptureSizes(20).ToArray());
        Assert.IsTrue(CudaGraphModes.Enabled(CudaGraphMode.Auto, "cuda"));
        Assert.IsFalse(CudaGraphModes.Enabled(CudaGraphMode.Auto, "simt"));
        Assert.IsFalse(CudaGraphModes.Enabled(CudaGraphMode.Off, "cuda"));
    }
}
