namespace Paged.Engine.Tests;

/// <summary>
/// The engine end to end on a device backend (simt here; cuda on a GPU machine: PAGED_TEST_DEVICES=cuda,
/// see tools/gpu_check.sh): the paths that move blocks -- n > 1 (siblings fork the prompt's last
/// block: copy-on-write block_copy), prefix-cache sharing, swap and recompute preemption -- against
/// the golden reference and against the CPU backend (same kernels' semantics, bit-identical sampling).
/// Every index array, copy pair and sampling parameter must be device memory: the emulator rejects a
/// host pointer as a GPU would (see SIMT.md), so this class of bug fails here before it reaches a GPU.
/// </summary>
[TestClass]
public sealed class DeviceEndToEndTests
{
    private static readonly string[] Devices = (Environment.GetEnvironmentVariable("PAGED_TEST_DEVICES") ?? "simt").Split(',');

    public static IEnumerable<object[]> DeviceRows => Devices.Select(d => new object[] { d });

    internal static void RequireDevice(string device)
    {
        if (!Paged.Runtime.Backend.IsAvailable(device))
            Assert.Inconclusive($"libpaged_{device}.so is not built");
        try
        {
            using var probe = Paged.Runtime.Backend.Load(device).CreateContext();
        }
        catch (Paged.Runtime.BackendException e) when (e.Status == Paged.Runtime.Status.Unsupported)
        {
            Assert.Inconclusive($"backend '{device}' cannot run here: {e.Message}");
        }
    }

    // Greedy siblings (n = 2) of every golden prompt: each completion is the reference. The siblings
    // share the prompt's blocks; the first decode step writes into the shared last block, so the
    // engine copies it (block_copy with a device pair list) before either sibling writes.
    [TestMethod]
    [DynamicData(nameof(DeviceRows))]
    public void GreedySiblings_EachMatchTheReference(string device)
    {
        RequireDevice(device);
        var golden = GoldenTests.LoadGolden().Take(4).ToList();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens, N = 2, Logprobs = 2 })).ToList();
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { Device = device, MaxNumSeqs = 8 });
        var outputs = engine.Generate(requests);
        Assert.IsGreaterThan(0L, engine.Counters.BlockCopies, "n = 2 must fork (copy-on-write) the prompt's last block");
        for (int i = 0; i < golden.Count; i++)
        {
            Assert.HasCount(2, outputs[i].Completions, golden[i].Prompt);
            foreach (var c in outputs[i].Completions)
            {
                var single = outputs[i] with { TokenIds = c.TokenIds, Text = c.Text, FinishReason = c.FinishReason, Logprobs = c.Logprobs };
                GoldenTests.AssertMatchesGolden(golden[i], single, $"{device} n=2 completion {c.Index}");
            }
        }

        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, "every KV block is free once all requests finish");
    }

    // Seeded sampling with n = 3 and a shared prompt prefix across requests (prefix-cache hits): the
    // device gives the CPU backend's tokens exactly (sampling is bit-identical across backends).
    [TestMethod]
    [DynamicData(nameof(DeviceRows))]
    public void SeededForksAndPrefixSharing_MatchTheCpuBackend(string device)
    {
        RequireDevice(device);
        const string stem = "Once upon a time, there was a little girl named Lily. She loved to";
        var requests = new List<(string, SamplingParams)>
        {
            (stem, new SamplingParams { MaxTokens = 24, Temperature = 1.0f, MinP = 0.05f, Seed = 9, RepetitionPenalty = 1.2f }),
            (stem + " play", new SamplingParams { MaxTokens = 24, Temperature = 0.9f, TopP = 0.95f, Seed = 7, N = 3 }),
            (stem + " run", new SamplingParams { MaxTokens = 24, Temperature = 0.7f, TopK = 20, Seed = 8, N = 2 }),
        };
        IReadOnlyList<RequestOutput> Run(string d, out EngineCounters counters)
        {
            using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { Device = d, MaxNumSeqs = 8, BlockSize = 4 });
            // The stem first: its blocks are then cached, and the two later prompts start from them.
            var result = engine.Generate(requests.Take(1).ToList()).Concat(engine.Generate(requests.Skip(1).ToList())).ToList();
            counters = engine.Counters;
            Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, $"{d}: no KV block leaks");
            return result;
        }

        var expected = Run("cpu", out _);
        var actual = Run(device, out var counters);
        Assert.IsGreaterThan(0L, counters.BlockCopies, "the forks copy blocks");
        Assert.IsGreaterThan(0L, counters.PrefixHits, "the shared stem hits the prefix cache");
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.HasCount(expected[i].Completions.Count, actual[i].Completions);
            for (int c = 0; c < expected[i].Completions.Count; c++)
                CollectionAssert.AreEqual(expected[i].Completions[c].TokenIds.ToArray(), actual[i].Completions[c].TokenIds.ToArray(), $"{device} vs cpu: request {i} completion {c}");
        }
    }

    // Memory pressure: swap and recompute preemption (blocks leave and re-enter the device cache)
    // reproduce the unpressured greedy tokens.
    [TestMethod]
    [DynamicData(nameof(DeviceRows))]
    public void Preemption_SwapAndRecompute_KeepTheGreedyTokens(string device)
    {
        RequireDevice(device);
        var golden = GoldenTests.LoadGolden();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = 48, N = 2 })).ToList();
        IReadOnlyList<RequestOutput> Run(EngineOptions o, out EngineCounters counters) => EngineRuns.Generate(o, requests, out counters);

        var baseline = Run(new EngineOptions { Device = device, MaxNumSeqs = 16 }, out _);
        foreach (var mode in new[] { PreemptionMode.Swap, PreemptionMode.Recompute })
        {
            var o = new EngineOptions { Device = device, MaxNumSeqs = 16, NumKvBlocks = 24, Preemption = mode, MaxNumBatchedTokens = 32 };
            var outputs = Run(o, out var counters);
            Assert.IsGreaterThan(0L, counters.Preemptions, $"{mode}: 24 blocks cannot hold 16 sequences: preemption must happen");
            for (int i = 0; i < requests.Count; i++)
                for (int c = 0; c < 2; c++)
                    CollectionAssert.AreEqual(baseline[i].Completions[c].TokenIds.ToArray(), outputs[i].Completions[c].TokenIds.ToArray(), $"{device} {mode}: '{golden[i].Prompt}' completion {c}");
        }
    }
}
