namespace Paged.Engine.Tests;

/// <summary>
/// <see cref="AsyncEngine"/> over the real engine loop with a scripted fake executor: validation, admission
/// limit, cancellation, executor faults, shutdown, many concurrent callers, observability; and the engine's
/// single-thread rule.
/// </summary>
[TestClass]
public sealed class AsyncEngineTests
{
    private const int Timeout = 60_000;

    /// <summary>Every completion samples "a" forever (unless it ignores nothing: "a" is no end id).</summary>
    private static LlmEngine Endless(StepGate? gate = null, Action<StepPlan>? before = null, EngineOptions? options = null) =>
        FakeModel.Engine(options ?? FakeModel.Options(numKvBlocks: 512), (_, _, _) => FakeTokenizer.Id("a"), before ?? (gate is null ? null : gate.BeforeExecute));

    private static GenerationRequest Request(int maxTokens, string? id = null) =>
        new() { PromptTokenIds = [1, FakeTokenizer.Id("b")], Sampling = new SamplingParams { MaxTokens = maxTokens }, RequestId = id };

    private static async Task<List<RequestOutput>> Collect(IAsyncEnumerable<RequestOutput> outputs)
    {
        var list = new List<RequestOutput>();
        await foreach (var o in outputs)
            list.Add(o);
        return list;
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task InvalidInput_ThrowsFromGenerateAsync_BeforeAnythingRuns()
    {
        await using var engine = new AsyncEngine(Endless());
        var e = Assert.ThrowsExactly<ArgumentException>(() => engine.GenerateAsync(Request(0)));
        StringAssert.Contains(e.Message, "max_tokens");
        Assert.ThrowsExactly<ArgumentException>(() => engine.GenerateAsync(new GenerationRequest()));
        Assert.ThrowsExactly<ArgumentException>(() => engine.GenerateAsync(new GenerationRequest { PromptTokenIds = [100_000] }));
        Assert.ThrowsExactly<ArgumentException>(() => engine.GenerateAsync(new GenerationRequest { PromptTokenIds = new int[engine.MaxContext] }));

        var live = engine.GenerateAsync(Request(3, "same"));
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => engine.GenerateAsync(Request(3, "same"))).Message, "same");
        var outputs = await Collect(live);
        Assert.AreEqual("same", outputs[^1].ExternalId);
        Assert.HasCount(3, outputs[^1].TokenIds);
        Assert.AreEqual(0L, engine.Snapshot.Counters.StepFaults);
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task CancellationAndLeavingEarly_AbortTheRequest_AndFreeItsBlocks()
    {
        using var gate = new StepGate(blockAtStep: 3);
        await using var engine = new AsyncEngine(Endless(gate));
        using var cts = new CancellationTokenSource();
        var seen = new List<RequestOutput>();
        var reading = Task.Run(async () =>
        {
            await foreach (var o in engine.GenerateAsync(Request(1000), cts.Token))
                seen.Add(o);
        });
        await gate.Entered;
        Assert.IsGreaterThan(0, engine.Snapshot.Step.KvBlocksUsed);
        await cts.CancelAsync();
        gate.Open();
        await Assert.ThrowsAsync<OperationCanceledException>(() => reading);
        Assert.IsFalse(seen.Any(o => o.Finished), "the request was still running when it was cancelled");
        var after = await engine.GetSnapshotAsync();
        Assert.AreEqual(0, after.Step.KvBlocksUsed, "a cancelled request's blocks are freed");
        Assert.AreEqual(0, after.LiveRequests);
        Assert.AreEqual(1L, after.Counters.FinishedRequests(FinishReason.Abort));

        // A consumer that stops enumerating (break) aborts too.
        await foreach (var o in engine.GenerateAsync(Request(1000)))
        {
            if (o.TokenIds.Count >= 2)
                break;
        }

        after = await engine.GetSnapshotAsync();
        Assert.AreEqual(0, after.Step.KvBlocksUsed);
        Assert.AreEqual(0, after.Step.NumRunning + after.Step.NumWaiting);
        Assert.AreEqual(2L, after.Counters.FinishedRequests(FinishReason.Abort));
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task AdmissionQueueFull_RejectsWithEngineOverloadedException()
    {
        using var gate = new StepGate();
        await using var engine = new AsyncEngine(Endless(gate), new AsyncEngineOptions { MaxPendingRequests = 2 });
        var a = Collect(engine.GenerateAsync(Request(4)));
        await gate.Entered; // the loop is inside the first step: nothing leaves the admission queue until it opens
        var b = Collect(engine.GenerateAsync(Request(4)));
        var e = Assert.ThrowsExactly<EngineOverloadedException>(() => engine.GenerateAsync(Request(4)));
        Assert.AreEqual(2, e.MaxPendingRequests);
        gate.Open();
        Assert.HasCount(4, (await a)[^1].TokenIds);
        Assert.HasCount(4, (await b)[^1].TokenIds);
        var c = await Collect(engine.GenerateAsync(Request(2)));
        Assert.AreEqual(FinishReason.Length, c[^1].FinishReason);
        Assert.AreEqual(0, (await engine.GetSnapshotAsync()).PendingRequests);
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task ThrowingExecutor_FailsItsRequests_AndTheLoopKeepsServing()
    {
        void Fault(StepPlan plan)
        {
            if (plan.Chunks.Any(c => c.Sequence.Request.ExternalId == "bad" && c.Sequence.NumGenerated == 2))
                throw new InvalidOperationException("injected device fault");
        }

        await using var engine = new AsyncEngine(Endless(before: Fault));
        var bad = await Collect(engine.GenerateAsync(Request(10, "bad")));
        var final = bad[^1];
        Assert.IsTrue(final.Finished);
        Assert.AreEqual(FinishReason.Error, final.FinishReason);
        StringAssert.Contains(final.Error, "injected device fault");
        Assert.AreEqual(final.Text, string.Concat(bad.Select(o => o.TextDelta)));
        Assert.IsTrue(engine.IsAlive);

        var good = await Collect(engine.GenerateAsync(Request(5, "good")));
        Assert.AreEqual(FinishReason.Length, good[^1].FinishReason);
        var snapshot = await engine.GetSnapshotAsync();
        Assert.AreEqual(1L, snapshot.Counters.StepFaults);
        Assert.AreEqual(1L, snapshot.Counters.FinishedRequests(FinishReason.Error));
        Assert.AreEqual(0, snapshot.Step.KvBlocksUsed);
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task ShutdownWithDrain_FinishesRunningRequests_ThenRefusesNewOnes()
    {
        var engine = new AsyncEngine(Endless());
        var runs = Enumerable.Range(0, 3).Select(i => Collect(engine.GenerateAsync(Request(20 + i)))).ToList();
        await engine.ShutdownAsync(drain: true);
        for (int i = 0; i < runs.Count; i++)
        {
            var last = (await runs[i])[^1];
            Assert.AreEqual(FinishReason.Length, last.FinishReason);
            Assert.HasCount(20 + i, last.TokenIds);
        }

        Assert.IsFalse(engine.IsAlive);
        Assert.ThrowsExactly<ObjectDisposedException>(() => engine.GenerateAsync(Request(1)));
        await engine.DisposeAsync();
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task ShutdownWithoutDrain_AbortsRunningRequestsWithAFinalOutput()
    {
        using var gate = new StepGate(blockAtStep: 2);
        var engine = new AsyncEngine(Endless(gate));
        var runs = Enumerable.Range(0, 2).Select(_ => Collect(engine.GenerateAsync(Request(1000)))).ToList();
        await gate.Entered;
        var shutdown = engine.ShutdownAsync(drain: false);
        Assert.ThrowsExactly<InvalidOperationException>(() => engine.GenerateAsync(Request(1)));
        gate.Open();
        await shutdown;
        foreach (var run in runs)
        {
            var outputs = await run;
            Assert.AreEqual(FinishReason.Abort, outputs[^1].FinishReason);
            Assert.IsTrue(outputs[^1].Finished);
            Assert.AreEqual(outputs[^1].Text, string.Concat(outputs.Select(o => o.TextDelta)));
        }

        Assert.IsFalse(engine.IsAlive);
        Assert.AreEqual(0, engine.Snapshot.Step.KvBlocksUsed);
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task ManyConcurrentCallers_WithRandomCancellations_EndWithNoBlockInUse()
    {
        // Memory pressure (preemption), n > 1, stop strings; each caller reads to the end, cancels, or leaves early.
        var options = FakeModel.Options(numKvBlocks: 48, blockSize: 4, maxNumSeqs: 6, maxBatchedTokens: 24);
        static int Token(string id, int index, int generated) => FakeTokenizer.FirstPiece + ((int.Parse(id[1..], System.Globalization.CultureInfo.InvariantCulture) + (index * 7) + (generated * 13)) & 15);
        await using var engine = new AsyncEngine(FakeModel.Engine(options, Token));
        long steps = 0;
        engine.StepCompleted += (_, e) => Interlocked.Exchange(ref steps, e.Snapshot.Step.Step);
        var callers = Enumerable.Range(0, 80).Select(i => Task.Run(async () =>
        {
            var random = new Random(i);
            var sampling = new SamplingParams { MaxTokens = random.Next(1, 60), N = random.Next(4) == 0 ? 2 : 1, Stop = random.Next(3) == 0 ? ["bc"] : [] };
            var checker = new DeltaChecker(sampling.Stop);
            int mode = random.Next(3);
            int stopAfter = random.Next(1, 10);
            using var cts = new CancellationTokenSource();
            try
            {
                await foreach (var o in engine.GenerateAsync(new GenerationRequest { PromptTokenIds = [1, FakeTokenizer.FirstPiece + (i % 16)], Sampling = sampling, RequestId = $"c{i}" }, cts.Token))
                {
                    checker.Add(o);
                    if (mode == 1 && checker.Outputs == stopAfter)
                        await cts.CancelAsync();
                    if (mode == 2 && checker.Outputs == stopAfter)
                        break;
                }
            }
            catch (OperationCanceledException) when (mode == 1)
            {
            }

            if (checker.Final is { } final)
                Assert.AreNotEqual(FinishReason.Error, final.FinishReason, final.Error);
            return checker.Final is not null;
        })).ToList();
        var finished = await Task.WhenAll(callers);
        var snapshot = await engine.GetSnapshotAsync();
        Assert.AreEqual(0, snapshot.Step.KvBlocksUsed, "blocks in use after every caller left");
        Assert.AreEqual(0, snapshot.Step.NumRunning + snapshot.Step.NumWaiting + snapshot.Step.NumSwapped);
        Assert.AreEqual(0, snapshot.LiveRequests);
        Assert.AreEqual(0, snapshot.PendingRequests);
        Assert.AreEqual(0L, snapshot.Counters.StepFaults);
        Assert.IsGreaterThan(10, finished.Count(f => f), "most callers that read to the end finished");
        Assert.IsGreaterThan(0L, Interlocked.Read(ref steps), "StepCompleted was raised");
        Assert.IsTrue(engine.IsAlive);
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task FinalOutput_CarriesTimingsAndCounters()
    {
        await using var engine = new AsyncEngine(Endless());
        var before = DateTimeOffset.UtcNow;
        var final = (await Collect(engine.GenerateAsync(Request(6))))[^1];
        var t = final.Timings;
        Assert.IsTrue(t.Scheduled);
        Assert.IsTrue(t.ArrivalTime >= before.AddSeconds(-1) && t.ArrivalTime <= DateTimeOffset.UtcNow);
        Assert.IsNotNull(t.FirstTokenSeconds);
        Assert.IsNotNull(t.FinishedSeconds);
        Assert.IsTrue(t.QueueSeconds >= 0 && t.FirstTokenSeconds >= t.QueueSeconds && t.FinishedSeconds >= t.FirstTokenSeconds);
        Assert.AreEqual(t.FirstTokenSeconds - t.QueueSeconds, t.PrefillSeconds);
        Assert.AreEqual(t.FinishedSeconds - t.FirstTokenSeconds, t.DecodeSeconds);
        var c = (await engine.GetSnapshotAsync()).Counters;
        Assert.AreEqual(6L, c.TokensGenerated);
        Assert.AreEqual(2L, c.PromptTokens);
        Assert.AreEqual(1L, c.FinishedRequests(FinishReason.Length));
    }

    [TestMethod]
    [Timeout(Timeout, CooperativeCancellation = true)]
    public async Task SecondThreadInsideTheEngine_GetsAClearException_AndUseAfterDisposeThrows()
    {
        using var gate = new StepGate();
        var engine = Endless(gate);
        engine.AddRequest(Request(3));
        var first = Task.Run(engine.Step);
        await gate.Entered;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => engine.Step());
        StringAssert.Contains(e.Message, "one thread at a time");
        Assert.ThrowsExactly<InvalidOperationException>(() => engine.AddRequest(Request(3)));
        gate.Open();
        await first;
        while (engine.HasUnfinishedRequests)
            engine.Step();
        engine.Dispose();
        Assert.ThrowsExactly<ObjectDisposedException>(() => engine.Step());
        Assert.ThrowsExactly<ObjectDisposedException>(() => engine.AddRequest(Request(3)));
    }
}
