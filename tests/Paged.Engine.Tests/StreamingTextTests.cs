using CsCheck;

namespace Paged.Engine.Tests;

/// <summary>
/// Streaming text is exactly the final text (issue 11 item 5): for scripted workloads through the real engine
/// loop (fake executor and tokenizer), the concatenated deltas equal the final text, which equals a plain decode
/// of the script cut before the first stop string, including stop strings that span tokens and steps,
/// multi-byte characters split across byte tokens, multi-byte stop strings, n > 1 and preemption.
/// </summary>
[TestClass]
public sealed class StreamingTextTests
{
    internal static void AssertFinal(ScriptedRequest r, DeltaChecker checker, string how)
    {
        var final = checker.Final;
        Assert.IsNotNull(final, $"{how}: request {r.Id} never finished");
        Assert.AreEqual(r.Id, final.ExternalId);
        for (int i = 0; i < r.Scripts.Length; i++)
        {
            var (text, reason, stopString, stopToken, tokens) = TextWorkload.Expected(r.Scripts[i], r.Sampling);
            var c = final.Completions[i];
            string what = $"{how}: request {r.Id} completion {i} (stops [{string.Join("|", r.Sampling.Stop)}])";
            Assert.AreEqual(text, c.Text, what);
            Assert.AreEqual(text, checker.Streamed(i), what + ": deltas");
            Assert.AreEqual(reason, c.FinishReason, what);
            Assert.AreEqual(stopString, c.StopString, what);
            Assert.AreEqual(stopToken, c.StopTokenId, what);
            CollectionAssert.AreEqual(r.Scripts[i][..tokens], c.TokenIds.ToArray(), what);
        }
    }

    private static GenerationRequest ToRequest(ScriptedRequest r) => new() { PromptTokenIds = r.Prompt, Sampling = r.Sampling, RequestId = r.Id };

    private static int Script(List<ScriptedRequest> requests, string id, int index, int generated) =>
        requests.First(r => r.Id == id).Scripts[index][generated];

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Deltas_ConcatenateToTheFinalText_SyncEngine()
    {
        TextWorkload.Gen.Sample(w =>
        {
            var requests = w.Requests();
            using var engine = FakeModel.Engine(w.Options, (id, i, g) => Script(requests, id, i, g));
            var checkers = requests.ToDictionary(r => r.Id, r => new DeltaChecker(r.Sampling.Stop));
            foreach (var r in requests)
                engine.AddRequest(ToRequest(r));
            for (int steps = 0; engine.HasUnfinishedRequests; steps++)
            {
                Assert.IsLessThan(100_000, steps, "no progress");
                foreach (var o in engine.Step())
                    checkers[o.ExternalId].Add(o);
            }

            foreach (var r in requests)
                AssertFinal(r, checkers[r.Id], w.ToString());
            Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, "blocks leak");
        }, iter: 1000, threads: 1);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Deltas_ConcatenateToTheFinalText_AsyncEngine()
    {
        TextWorkload.Gen.Sample(w =>
        {
            var requests = w.Requests();
            var engine = new AsyncEngine(FakeModel.Engine(w.Options, (id, i, g) => Script(requests, id, i, g)));
            try
            {
                var tasks = requests.Select(async r =>
                {
                    var checker = new DeltaChecker(r.Sampling.Stop);
                    await foreach (var o in engine.GenerateAsync(ToRequest(r)))
                        checker.Add(o);
                    return (r, checker);
                }).ToList();
                foreach (var (r, checker) in Task.WhenAll(tasks).GetAwaiter().GetResult())
                    AssertFinal(r, checker, "async " + w);
                Assert.AreEqual(0, engine.GetSnapshotAsync().GetAwaiter().GetResult().Step.KvBlocksUsed, "blocks leak");
            }
            finally
            {
                engine.Dispose();
            }
        }, iter: 200, threads: 1);
    }

    /// <summary>"a" then "b", "c", "d": with stop "bcd" the b and c are held back and never streamed.</summary>
    [TestMethod]
    [DataRow("bcd", new[] { "a", "", "" }, "a", "bcd")]
    [DataRow("bcx", new[] { "a", "", "" }, "abcde", null)]
    [DataRow("cd", new[] { "a", "b", "" }, "ab", "cd")]
    public void StopStringSplitAcrossSteps_IsHeldBackAndNotStreamed(string stop, string[] firstDeltas, string final, string? stopString)
    {
        int[] script = [FakeTokenizer.Id("a"), FakeTokenizer.Id("b"), FakeTokenizer.Id("c"), FakeTokenizer.Id("d"), FakeTokenizer.Byte((byte)'e')];
        using var engine = FakeModel.Engine(FakeModel.Options(), (_, _, g) => script[g]);
        engine.AddRequest(new GenerationRequest { PromptTokenIds = [1, FakeTokenizer.FirstPiece], Sampling = new SamplingParams { MaxTokens = 5, Stop = [stop] } });
        var deltas = new List<string>();
        RequestOutput? last = null;
        while (engine.HasUnfinishedRequests)
        {
            foreach (var o in engine.Step())
            {
                deltas.Add(o.TextDelta);
                last = o;
            }
        }

        CollectionAssert.AreEqual(firstDeltas, deltas.Take(3).ToArray());
        Assert.IsNotNull(last);
        Assert.AreEqual(final, last.Text);
        Assert.AreEqual(final, string.Concat(deltas));
        Assert.AreEqual(stopString, last.Completions[0].StopString);
        Assert.AreEqual(stopString is null ? FinishReason.Length : FinishReason.Stop, last.FinishReason);
    }

    [TestMethod]
    public void MultiByteCharacterSplitAcrossTokens_IsStreamedWhole()
    {
        byte[] euro = "€"u8.ToArray();
        int[] script = [FakeTokenizer.Byte(euro[0]), FakeTokenizer.Byte(euro[1]), FakeTokenizer.Byte(euro[2]), FakeTokenizer.Id("a")];
        using var engine = FakeModel.Engine(FakeModel.Options(), (_, _, g) => script[g]);
        engine.AddRequest(new GenerationRequest { PromptTokenIds = [1], Sampling = new SamplingParams { MaxTokens = 4 } });
        var deltas = new List<string>();
        while (engine.HasUnfinishedRequests)
            deltas.AddRange(engine.Step().Select(o => o.TextDelta));
        CollectionAssert.AreEqual(new[] { "", "", "€", "a" }, deltas);
    }
}
