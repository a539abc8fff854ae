namespace Paged.Engine.Tests;

/// <summary>
/// The scheduler and KV-cache manager end to end on stories260K: greedy and seeded outputs do not
/// depend on prefix caching, chunking, or preemption (recompute or swap); n > 1 gives n different,
/// reproducible continuations that share the prompt's blocks.
/// </summary>
[TestClass]
public sealed class SchedulerEndToEndTests
{
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

    private static List<(string Prompt, SamplingParams Sampling)> Requests(SamplingParams p)
    {
        var list = GoldenTests.LoadGolden().Select(g => (g.Prompt, p with { MaxTokens = g.MaxTokens })).ToList();
        // Prompts sharing a long prefix, so the prefix cache has something to serve.
        foreach (string end in new[] { " One day", " Her mom said", " Tom came", " The sun" })
            list.Add((Story + end, p with { MaxTokens = 60 }));
        return list;
    }

    private static (IReadOnlyList<RequestOutput> Outputs, EngineCounters Counters) Run(EngineOptions o, List<(string, SamplingParams)> requests)
    {
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, o);
        var outputs = engine.Generate(requests);
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, $"no KV block leaks ({o})");
        Assert.AreEqual(0, engine.Scheduler.Kv.Pool.FilledSlotsInUse);
        return (outputs, engine.Counters);
    }

    private static void AssertSame(IReadOnlyList<RequestOutput> expected, IReadOnlyList<RequestOutput> actual, string how)
    {
        Assert.HasCount(expected.Count, actual);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.HasCount(expected[i].Completions.Count, actual[i].Completions);
            for (int c = 0; c < expected[i].Completions.Count; c++)
                CollectionAssert.AreEqual(expected[i].Completions[c].TokenIds.ToArray(), actual[i].Completions[c].TokenIds.ToArray(), $"{how}: '{expected[i].Prompt}' completion {c}");
        }
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void Greedy_IsIdenticalWithPrefixCachingChunkingAndPreemption()
    {
        var requests = Requests(new SamplingParams());
        var (baseline, baseCounters) = Run(new EngineOptions { MaxNumSeqs = 16, PrefixCaching = false }, requests);
        Assert.AreEqual(0, baseCounters.PrefixHits);

        // Few seats: later requests arrive after the story prefix is computed and find it cached.
        var (cached, cachedCounters) = Run(new EngineOptions { MaxNumSeqs = 4 }, requests);
        AssertSame(baseline, cached, "prefix caching on");
        Assert.IsGreaterThan(0L, cachedCounters.PrefixHits, "the shared story prefix is served from the cache");
        Assert.IsLessThan(baseCounters.PromptTokensComputed, cachedCounters.PromptTokensComputed);

        var variants = new (string Name, EngineOptions Options)[]
        {
            ("chunk 1", new EngineOptions { MaxNumSeqs = 1, MaxNumBatchedTokens = 1 }),
            ("chunk 7", new EngineOptions { MaxNumSeqs = 4, MaxNumBatchedTokens = 7 }),
            ("chunk 64", new EngineOptions { MaxNumSeqs = 16, MaxNumBatchedTokens = 64 }),
            ("chunk 7, no prefix cache", new EngineOptions { MaxNumSeqs = 4, MaxNumBatchedTokens = 7, PrefixCaching = false }),
            ("chunked prefill off", new EngineOptions { MaxNumSeqs = 16, MaxNumBatchedTokens = 64, ChunkedPrefill = false }),
            ("block size 4", new EngineOptions { MaxNumSeqs = 16, BlockSize = 4 }),
        };
        foreach (var (name, o) in variants)
            AssertSame(baseline, Run(o, requests).Outputs, name);

        foreach (var mode in new[] { PreemptionMode.Recompute, PreemptionMode.Swap })
        {
            foreach (bool prefix in new[] { true, false })
            {
                var o = new EngineOptions { MaxNumSeqs = 12, NumKvBlocks = 24, Preemption = mode, PrefixCaching = prefix, MaxNumBatchedTokens = 32 };
                var (outputs, counters) = Run(o, requests);
                AssertSame(baseline, outputs, $"{mode} preemption, prefix caching {prefix}");
                Assert.IsGreaterThan(0L, counters.Preemptions, $"24 blocks cannot hold 12 stories: {mode} preemption must happen");
                if (mode == PreemptionMode.Swap)
                    Assert.IsGreaterThan(0L, counters.SwapOuts, "swap preemption swaps");
            }
        }
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow(SchedulingPolicy.Priority, PreemptionMode.Recompute)]
    [DataRow(SchedulingPolicy.Priority, PreemptionMode.Swap)]
    [DataRow(SchedulingPolicy.Fair, PreemptionMode.Recompute)]
    [DataRow(SchedulingPolicy.Fair, PreemptionMode.Swap)]
    public void Policies_ChangeTheOrderButNotTheTokens(SchedulingPolicy policy, PreemptionMode mode)
    {
        var requests = Requests(new SamplingParams());
        var (baseline, _) = Run(new EngineOptions { MaxNumSeqs = 16, PrefixCaching = false }, requests);
        var withAttributes = requests.Select((r, i) => (r.Prompt, r.Sampling, new RequestAttributes { Priority = i % 3, Tenant = i % 2 == 0 ? "a" : "b" })).ToList();
        var o = new EngineOptions { MaxNumSeqs = 12, NumKvBlocks = 24, MaxNumBatchedTokens = 32, Policy = policy, Preemption = mode };
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, o);
        var outputs = engine.Generate(withAttributes);
        AssertSame(baseline, outputs, $"{policy}, {mode}");
        Assert.IsGreaterThan(0L, engine.Counters.Preemptions);
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void SeededSampling_IsIdenticalWithAndWithoutPreemption()
    {
        var requests = Requests(new SamplingParams { Temperature = 1f, TopP = 0.9f, Seed = 7 })
            .Select((r, i) => (r.Prompt, r.Sampling with { Seed = (ulong)i + 100, N = i % 3 == 0 ? 3 : 1 })).ToList();
        var (baseline, _) = Run(new EngineOptions { MaxNumSeqs = 32 }, requests);
        foreach (var mode in new[] { PreemptionMode.Recompute, PreemptionMode.Swap })
        {
            var (outputs, counters) = Run(new EngineOptions { MaxNumSeqs = 12, NumKvBlocks = 24, Preemption = mode, MaxNumBatchedTokens = 48 }, requests);
            Assert.IsGreaterThan(0L, counters.Preemptions, $"{mode}: preemption must happen");
            AssertSame(baseline, outputs, $"seeded, {mode} preemption");
        }
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void ParallelSampling_GivesNDifferentReproducibleContinuations_SharingThePrompt()
    {
        var p = new SamplingParams { Temperature = 1f, Seed = 42, MaxTokens = 40, N = 4 };
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions());
        var a = engine.Generate([(Story, p)])[0];
        Assert.HasCount(4, a.Completions);
        Assert.IsTrue(a.Finished);
        Assert.AreEqual(4, a.Completions.Select(c => string.Join(",", c.TokenIds)).Distinct().Count(), "n different continuations");
        CollectionAssert.AreEqual(a.Completions[0].TokenIds.ToArray(), a.TokenIds.ToArray(), "TokenIds is the first completion");
        Assert.AreEqual(a.Completions[0].Text, a.Text);
        Assert.IsGreaterThan(0L, engine.Counters.BlockCopies, "siblings copy the shared partial prompt block on first write");
        long promptOnce = a.PromptTokenIds.Count;
        Assert.AreEqual(promptOnce, engine.Counters.PromptTokensComputed, "the prompt is prefilled once for all n");

        var again = engine.Generate([(Story, p)])[0];
        for (int i = 0; i < 4; i++)
            CollectionAssert.AreEqual(a.Completions[i].TokenIds.ToArray(), again.Completions[i].TokenIds.ToArray(), $"completion {i} is reproducible");

        var single = engine.Generate([(Story, p with { N = 1 })])[0];
        CollectionAssert.AreEqual(a.Completions[0].TokenIds.ToArray(), single.TokenIds.ToArray(), "completion 0 uses the request seed itself");
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void StepMetrics_ReportQueuesKvUseAndWaste()
    {
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { MaxNumSeqs = 2 });
        for (int i = 0; i < 4; i++)
            engine.AddRequest(Story, new SamplingParams { MaxTokens = 20 });
        engine.Step();
        var m = engine.LastStep;
        Assert.AreEqual(2, m.NumRunning);
        Assert.AreEqual(2, m.NumWaiting);
        Assert.IsGreaterThan(0, m.KvBlocksUsed);
        Assert.IsLessThanOrEqualTo(m.KvSlotsAllocated, m.KvSlotsFilled);
        Assert.IsGreaterThan(0L, m.KvSlotsFilled);
        Assert.IsLessThan(0.5, m.KvWaste);
        RequestOutput? last = null;
        while (engine.HasUnfinishedRequests)
        {
            foreach (var o in engine.Step())
                last = o;
        }

        Assert.IsNotNull(last);
        Assert.IsGreaterThan(0, last.CachedPromptTokens, "later requests reuse the first one's prompt blocks");
        Assert.IsNotNull(last.Timings.FirstTokenSeconds);
        Assert.IsNotNull(last.Timings.TimePerOutputToken(last.TokenIds.Count));
        Assert.IsGreaterThan(0.0, engine.Counters.PrefixHitRate);
    }
}
