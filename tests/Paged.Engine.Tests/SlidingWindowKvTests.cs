using System.Text.Json;
using Paged.Engine.Kv;

namespace Paged.Engine.Tests;

/// <summary>
/// With a sliding window the KV manager releases blocks no future query reads: block accounting on a tiny pool
/// (with and without prefix caching, forks and swapping), and the hf-tiny Mistral reference rows (window 24,
/// prompt + 40 tokens beyond it) through the real engine with 4-token blocks, so blocks are released mid-run.
/// </summary>
[TestClass]
public sealed class SlidingWindowKvTests
{
    private const int B = 4;
    private const int W = 6;
    private static long _ids;

    private static Sequence Seq(int length, int n = 1)
    {
        var r = new Request(Interlocked.Increment(ref _ids), "", [.. Enumerable.Range(10, length)], new SamplingParams { N = n }, 0);
        r.CreateSequences(0, ref _ids);
        return r.Sequences[0];
    }

    /// <summary>Computes the rest of the sequence's tokens, as a step would.</summary>
    private static void Step(KvCacheManager kv, Sequence seq)
    {
        Assert.IsTrue(kv.TryAllocate(seq, seq.Length - seq.NumComputed, new StepPlan()));
        int old = seq.NumComputed;
        seq.NumComputed = seq.Length;
        kv.OnComputed(seq, old);
        kv.ReleaseOutOfWindow(seq);
    }

    /// <summary>Blocks a sequence still holds: those reaching the next query's window, [NumComputed - W + 1, NumComputed].</summary>
    private static int Live(Sequence seq) => seq.BlockTable.Count(b => b != KvCacheManager.FreedBlock);

    private static int ExpectedLive(int computed) => ((computed + B - 1) / B) - (Math.Max(0, computed - W + 1) / B);

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void BlocksLeavingTheWindowReturnToThePool(bool prefixCaching)
    {
        var kv = new KvCacheManager(16, B, prefixCaching, swapSlots: 0) { SlidingWindow = W };
        var seq = Seq(9);
        Step(kv, seq); // prefill 9 tokens: the next query (position 9) reads 4..9, so block 0 (0..3) is released
        Assert.AreEqual(KvCacheManager.FreedBlock, seq.BlockTable[0]);
        Assert.AreEqual(ExpectedLive(9), Live(seq));
        for (int t = 0; t < 30; t++)
        {
            seq.Append(1);
            Step(kv, seq);
            Assert.AreEqual(ExpectedLive(seq.NumComputed), Live(seq), $"after {seq.NumComputed} tokens");
            Assert.AreEqual(Live(seq), kv.Pool.NumUsed, "the pool counts exactly the live blocks");
            Assert.IsTrue(seq.BlockTable.Take(seq.BlockTable.Count - Live(seq)).All(b => b == KvCacheManager.FreedBlock), "freed entries form a prefix");
        }

        Assert.IsLessThanOrEqualTo((W / B) + 2, Live(seq), "39 tokens held in at most 3 blocks, not 10");
        kv.Free(seq);
        Assert.AreEqual(16, kv.Pool.NumFree);
    }

    [TestMethod]
    public void WithoutAWindowNothingIsReleased()
    {
        var kv = new KvCacheManager(16, B, prefixCaching: true, swapSlots: 0);
        var seq = Seq(30);
        Step(kv, seq);
        Assert.AreEqual(8, Live(seq));
    }

    [TestMethod]
    public void ReleasedCachedBlocksStayFindableAndForksKeepTheirReferences()
    {
        var kv = new KvCacheManager(16, B, prefixCaching: true, swapSlots: 0) { SlidingWindow = W };
        var parent = Seq(11, n: 2);
        var child = parent.Request.Sequences[1];
        Step(kv, parent);
        kv.Fork(parent, child); // the next query (11) reads 6..11: block 0 is released; the child shares blocks 1, 2 and the freed entry
        Assert.AreEqual(KvCacheManager.FreedBlock, child.BlockTable[0]);
        int shared = parent.BlockTable[1];
        parent.Append(1);
        parent.Append(2);
        parent.Append(3);
        Step(kv, parent); // 14 computed, reads from 9: the parent releases block 1, the child still holds it
        Assert.AreEqual(KvCacheManager.FreedBlock, parent.BlockTable[1]);
        Assert.AreEqual(1, kv.Pool.RefCount(shared));
        kv.Free(child);
        Assert.IsTrue(kv.Pool.IsFree(shared));

        // A new request with the same prompt finds the released-but-cached first blocks (their KV is intact).
        var again = new Request(Interlocked.Increment(ref _ids), "", [.. parent.PromptTokenIds], new SamplingParams(), 0);
        again.CreateSequences(0, ref _ids);
        Assert.AreEqual(2, kv.FindCachedPrefix(again.Sequences[0], out _), "(11 - 1) / 4 full prompt blocks");
        kv.Free(parent);
        Assert.AreEqual(16, kv.Pool.NumFree);
    }

    [TestMethod]
    public void SwappingSkipsReleasedBlocks()
    {
        var kv = new KvCacheManager(16, B, prefixCaching: false, swapSlots: 4) { SlidingWindow = W };
        var seq = Seq(17);
        Step(kv, seq); // blocks 0..4 over 17 tokens; the next query reads 12..17: blocks 0..2 released
        Assert.AreEqual(2, Live(seq));
        var plan = new StepPlan();
        Assert.IsTrue(kv.CanSwapOut(seq), "2 live blocks fit in 4 slots although the table has 5 entries");
        kv.SwapOut(seq, plan);
        Assert.HasCount(2, plan.SwapOut);
        Assert.AreEqual(16, kv.Pool.NumFree);
        Assert.AreEqual(2, kv.BlocksNeededToSwapIn(seq, 1));
        kv.SwapIn(seq, plan);
        Assert.HasCount(2, plan.SwapIn);
        Assert.HasCount(5, seq.BlockTable);
        Assert.AreEqual(2, Live(seq));
        kv.BeginStep();
        Assert.AreEqual(4, kv.NumFreeHostSlots);
    }

    [TestMethod]
    public void MistralReferenceRowsThroughTheEngineWithBlocksReleased()
    {
        string model = Path.Combine(SharedFiles.Root, "models", "hf-tiny", "tiny-mistral");
        var rows = File.ReadLines(Path.Combine(SharedFiles.Root, "golden", "hf_tiny_reference.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("model").GetString() == "tiny-mistral" && r.GetProperty("lora").ValueKind == JsonValueKind.Null)
            .ToList();
        Assert.HasCount(7, rows);
        using var engine = LlmEngine.Create(model, null, new EngineOptions { Device = "cpu", NumThreads = 1, BlockSize = B, MaxNumSeqs = 8 });
        Assert.AreEqual(24, engine.Config.SlidingWindow);
        var ids = rows.Select(r => engine.AddRequest("", [.. r.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
            new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true })).ToList();
        var outputs = new Dictionary<long, int[]>();
        int peakUsed = 0;
        while (engine.HasUnfinishedRequests)
        {
            foreach (var o in engine.Step().Where(o => o.Finished))
                outputs[o.RequestId] = [.. o.Completions[0].TokenIds];
            peakUsed = Math.Max(peakUsed, engine.NumKvBlocks - engine.NumFreeKvBlocks);
        }

        for (int i = 0; i < rows.Count; i++)
        {
            int[] expected = [.. rows[i].GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32())];
            // Up to the first near-tie (top-2 logit margin below 1e-3), where fp32 summation order may pick either.
            var margins = rows[i].GetProperty("top2_logit_margins").EnumerateArray().Select(e => e.GetDouble()).ToList();
            int trusted = margins.FindIndex(m => m < 1e-3) is int k and >= 0 ? k + 1 : expected.Length;
            CollectionAssert.AreEqual(expected[..trusted], outputs[ids[i]][..trusted], $"row {i}");
        }

        // Without releasing, the 7 sequences hold all their blocks at the end: sum of ceil((prompt + 40) / 4) = 92.
        // With it each holds at most ceil(24 / 4) + 2 = 8 blocks (a partial block at either end of the window).
        int whole = rows.Sum(r => (r.GetProperty("prompt_ids").GetArrayLength() + 40 + B - 1) / B);
        Assert.IsGreaterThan(90, whole);
        Assert.IsLessThanOrEqualTo(7 * 8, peakUsed, $"peak {peakUsed} blocks in use");
    }
}
