using CsCheck;

namespace Paged.Engine.Tests;

/// <summary>
/// <see cref="AsyncEngine"/> and the streaming contract on stories260K: seeded results through the async engine
/// equal the synchronous engine's; streamed deltas with stop strings cut from the model's own text equal a
/// plain decode of the greedy tokens cut before the stop string; cancelling frees every block.
/// </summary>
[TestClass]
public sealed class AsyncEngineModelTests
{
    private static readonly string[] Prompts = ["Once upon a time", "Lily and Tom", "The cat sat", "Zoo", "One day, a big dog"];

    private static readonly string[] MultiByteStops = ["é", "😀 "];

    private static EngineOptions Options => new() { MaxNumSeqs = 8 };

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task SeededResults_AreTheSameThroughAsyncEngineAndTheSyncEngine()
    {
        var requests = Prompts.Select((p, i) => new GenerationRequest
        {
            Prompt = p,
            RequestId = $"p{i}",
            Sampling = new SamplingParams { Temperature = 0.8f + (0.1f * i), TopP = 0.95f, Seed = (ulong)(100 + i), MaxTokens = 40, N = i == 2 ? 2 : 1 },
        }).ToList();
        IReadOnlyList<RequestOutput> expected;
        using (var sync = LlmEngine.Create(SharedFiles.Stories260KBin, null, Options))
            expected = sync.Generate(requests);

        await using var engine = AsyncEngine.Create(SharedFiles.Stories260KBin, null, Options);
        var runs = requests.Select(async r =>
        {
            var checker = new DeltaChecker([]);
            await foreach (var o in engine.GenerateAsync(r))
                checker.Add(o);
            return checker.Final!;
        }).ToList();
        var actual = await Task.WhenAll(runs);
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.AreEqual(requests[i].RequestId, actual[i].ExternalId);
            Assert.HasCount(expected[i].Completions.Count, actual[i].Completions);
            for (int c = 0; c < expected[i].Completions.Count; c++)
            {
                CollectionAssert.AreEqual(expected[i].Completions[c].TokenIds.ToArray(), actual[i].Completions[c].TokenIds.ToArray(), $"'{Prompts[i]}' completion {c}");
                Assert.AreEqual(expected[i].Completions[c].Text, actual[i].Completions[c].Text);
            }
        }

        Assert.AreEqual(0, (await engine.GetSnapshotAsync()).Step.KvBlocksUsed);
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void Deltas_WithStopStringsFromTheModelsOwnText_EqualTheCutGreedyText()
    {
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, Options);
        var greedy = engine.Generate(Prompts.Select(p => (p, new SamplingParams { MaxTokens = 60 })).ToList());
        var endIds = engine.Config.StopTokenIds.ToArray();
        var cases = Gen.Select(Gen.Int[0, Prompts.Length - 1], Gen.Int[0, 400], Gen.Int[1, 6], Gen.Int[0, 2], Gen.Bool);
        cases.Sample((prompt, start, length, extra, stopOnLength) =>
        {
            string full = greedy[prompt].Text;
            int at = Math.Min(start, Math.Max(0, full.Length - 1));
            var stops = new List<string> { full.Substring(at, Math.Min(length, full.Length - at)) };
            if (extra > 0)
                stops.Add(MultiByteStops[extra - 1]); // multi-byte stop strings (absent from these stories)
            var sampling = new SamplingParams { MaxTokens = stopOnLength ? 30 : 60, Stop = stops };
            long id = engine.AddRequest(Prompts[prompt], sampling);
            var checker = new DeltaChecker(stops);
            while (engine.HasUnfinishedRequests)
            {
                foreach (var o in engine.Step())
                    checker.Add(o);
            }

            var script = greedy[prompt].TokenIds.ToArray();
            var (text, reason, stopString, _, tokens) = TextWorkload.Expected(script, sampling, engine.Tokenizer.Decode, endIds);
            var final = checker.Final!;
            Assert.AreEqual(id, final.RequestId);
            Assert.AreEqual(text, final.Text, $"stops [{string.Join("|", stops)}]");
            Assert.AreEqual(text, checker.Streamed(0));
            Assert.AreEqual(reason, final.FinishReason);
            Assert.AreEqual(stopString, final.Completions[0].StopString);
            Assert.HasCount(tokens, final.TokenIds);
        }, iter: 40, threads: 1);
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task CancellingMidStream_LeavesNoBlockInUse()
    {
        await using var engine = AsyncEngine.Create(SharedFiles.Stories260KBin, null, Options);
        using var cts = new CancellationTokenSource();
        var others = Enumerable.Range(0, 3).Select(i => engine.GenerateAsync(new GenerationRequest { Prompt = Prompts[i], Sampling = new SamplingParams { MaxTokens = 30 } })).ToList();
        int seen = 0;
        await Assert.ThrowsAsync<OperationCanceledException>(async () =>
        {
            var sampling = new SamplingParams { MaxTokens = 200, IgnoreEos = true };
            await foreach (var o in engine.GenerateAsync(new GenerationRequest { Prompt = "Once upon a time", Sampling = sampling }, cts.Token))
            {
                if (++seen == 3)
                    await cts.CancelAsync();
            }
        });
        foreach (var other in others)
        {
            await foreach (var _ in other)
            {
            }
        }

        var snapshot = await engine.GetSnapshotAsync();
        Assert.AreEqual(0, snapshot.Step.KvBlocksUsed, "KV blocks in use after the cancelled stream");
        Assert.AreEqual(1L, snapshot.Counters.FinishedRequests(FinishReason.Abort));
        Assert.AreEqual(3L, snapshot.Counters.FinishedRequests(FinishReason.Length) + snapshot.Counters.FinishedRequests(FinishReason.Stop));
    }
}
