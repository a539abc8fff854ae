namespace Paged.Engine.Tests;

/// <summary>
/// The hard cases of memory pressure happen end to end, proven by counters rather than assumed: a sequence is
/// preempted while its chunked prefill is in progress, and a cached prefix is evicted and then requested again
/// (and recomputed). Either way the tokens equal those of an engine with room to spare.
/// </summary>
[TestClass]
public sealed class PressureCountersTests
{
    private const string Story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

    private static List<(string Prompt, SamplingParams Sampling)> Requests() =>
    [
        .. GoldenTests.LoadGolden().Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens })),
        .. new[] { " One day", " Her mom said", " Tom came", " The sun" }.Select(end => (Story + end, new SamplingParams { MaxTokens = 60 })),
    ];

    private static void AssertSameTokens(IReadOnlyList<RequestOutput> expected, IReadOnlyList<RequestOutput> actual, string how)
    {
        Assert.HasCount(expected.Count, actual);
        for (int i = 0; i < expected.Count; i++)
            CollectionAssert.AreEqual(expected[i].TokenIds.ToArray(), actual[i].TokenIds.ToArray(), $"{how}: '{expected[i].Prompt}'");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Preemption_during_chunked_prefill_happens_and_changes_no_token()
    {
        var requests = Requests();
        using var roomy = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { MaxNumSeqs = 16 });
        var expected = roomy.Generate(requests);
        foreach (var mode in new[] { PreemptionMode.Recompute, PreemptionMode.Swap })
        {
            // 5-token chunks and 24 blocks for 12 requests: the story prompts (~30 tokens) take several steps to
            // prefill while decoding sequences keep asking for blocks.
            var options = new EngineOptions
            {
                MaxNumSeqs = 12, MaxNumBatchedTokens = 5, NumKvBlocks = 24, Preemption = mode, SwapSpaceBytes = mode == PreemptionMode.Swap ? 1 << 22 : 0,
            };
            using var tight = LlmEngine.Create(SharedFiles.Stories260KBin, null, options);
            AssertSameTokens(expected, tight.Generate(requests), $"{mode}");
            Console.WriteLine($"{mode}: {tight.Scheduler.Preemptions} preemptions, {tight.Scheduler.PrefillPreemptions} during a chunked prefill");
            Assert.IsGreaterThan(0L, tight.Scheduler.PrefillPreemptions, $"{mode}: some preemption must hit a sequence mid-prefill");
            Assert.AreEqual(tight.NumKvBlocks, tight.NumFreeKvBlocks);
        }
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Evicted_prefix_requested_again_is_recomputed_to_the_same_tokens()
    {
        var story = new List<(string, SamplingParams)> { (Story + " One day", new SamplingParams { MaxTokens = 20 }) };
        var others = GoldenTests.Requests(GoldenTests.LoadGolden());
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { MaxNumSeqs = 8, NumKvBlocks = 40 });
        var cache = engine.Scheduler.Kv.Cache!;

        var first = engine.Generate(story);
        Assert.AreEqual(0, first[0].CachedPromptTokens);
        var again = engine.Generate(story);
        Assert.IsGreaterThan(0, again[0].CachedPromptTokens, "a repeat right away is served from the prefix cache");
        AssertSameTokens(first, again, "cached repeat");

        long evictionsBefore = cache.Evictions;
        _ = engine.Generate(others); // 8 full stories through 40 blocks: every free block is reused
        Assert.IsGreaterThan(evictionsBefore, cache.Evictions, "the other stories evict cached blocks");

        var afterEviction = engine.Generate(story);
        Assert.AreEqual(0, afterEviction[0].CachedPromptTokens, "the story's prefix was evicted: it is recomputed");
        AssertSameTokens(first, afterEviction, "repeat after eviction");
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
    }
}
