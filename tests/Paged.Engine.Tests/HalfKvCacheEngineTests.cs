namespace Paged.Engine.Tests;

/// <summary>
/// --kv-cache-dtype end to end on stories260K: the golden greedy rows with an f16 / bf16 KV cache, the
/// memory budget holding twice the blocks, and copy-on-write forks, prefix caching, chunked prefill and
/// swap / recompute preemption giving the unpressured run's tokens with a half cache.
/// </summary>
[TestClass]
public sealed class HalfKvCacheEngineTests
{
    /// <summary>
    /// How far the engine's top-2 gap may be from run.c's fp32 margin with a half KV cache. Rounding K and V
    /// (unit roundoff u: f16 2^-11, bf16 2^-8) perturbs every attention output by ~u relative, and the logits
    /// (magnitude ~10, five layers) by a few hundred u at worst. Measured over the 8 golden rows, identical
    /// on cpu and simt: worst |gap - margin| 2.2e-2 with f16, 1.2e-1 with bf16 (the ratio ~ the ratio of
    /// the roundoffs); the tolerances are twice that. A wrong row, position or block moves the gap by units.
    /// Greedy may pick the other token only where the reference margin is below the tolerance: measured,
    /// f16 reproduces all 8 rows in full; bf16 diverges in 4 rows, at reference margins 0.0035 ('Zoo', step
    /// 14), 0.012, 0.020 and 0.073 (steps 131-136 of the long stories).
    /// </summary>
    private static double MarginTolerance(KvCacheDType t) => t == KvCacheDType.F16 ? 5e-2 : 2.5e-1;

    /// <summary>cpu and the device rows of <see cref="DeviceEndToEndTests"/> (simt; cuda with PAGED_TEST_DEVICES=cuda), each with f16 and bf16.</summary>
    public static IEnumerable<object[]> Rows =>
        new[] { "cpu" }.Concat(DeviceEndToEndTests.DeviceRows.Select(r => (string)r[0]))
            .SelectMany(d => new[] { new object[] { d, KvCacheDType.F16 }, new object[] { d, KvCacheDType.BF16 } });

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DynamicData(nameof(Rows))]
    public void Greedy_HalfKvCacheFollowsTheReference(string device, KvCacheDType kv)
    {
        DeviceEndToEndTests.RequireDevice(device);
        var golden = GoldenTests.LoadGolden();
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { Device = device, MaxNumSeqs = 8, KvCacheDType = kv });
        var outputs = engine.Generate(GoldenTests.Requests(golden));
        int diverged = 0;
        double worst = 0;
        for (int i = 0; i < golden.Count; i++)
        {
            var g = golden[i];
            var actual = outputs[i].TokenIds.ToArray();
            var logprobs = outputs[i].Logprobs!;
            int common = Math.Min(actual.Length, g.OutputIds.Length);
            int divergence = Enumerable.Range(0, common).FirstOrDefault(s => actual[s] != g.OutputIds[s], -1);
            int compared = divergence < 0 ? common : divergence + 1;
            for (int s = 0; s < compared; s++)
            {
                double gap = logprobs[s].Top[0].Logprob - logprobs[s].Top[1].Logprob;
                worst = Math.Max(worst, Math.Abs(gap - g.Margins[s]));
                Assert.IsLessThanOrEqualTo(MarginTolerance(kv), Math.Abs(gap - g.Margins[s]),
                    $"{kv} KV on {device}: step {s} of '{g.Prompt}': top-2 gap {gap:R}, reference margin {g.Margins[s]:R}");
            }

            if (divergence >= 0)
            {
                diverged++;
                // A different token is only legitimate where the reference's two best were closer than the
                // rounding can move them.
                Assert.IsLessThan(MarginTolerance(kv), g.Margins[divergence],
                    $"{kv} KV on {device}: '{g.Prompt}' diverges at step {divergence} where the reference margin {g.Margins[divergence]:R} is not a near-tie");
                Console.WriteLine($"{kv} KV on {device}: '{g.Prompt}' diverges at step {divergence} (reference margin {g.Margins[divergence]:R})");
            }
            else
            {
                CollectionAssert.AreEqual(g.OutputIds, actual, $"{kv} KV on {device}: '{g.Prompt}'");
            }
        }

        Console.WriteLine($"{kv} KV on {device}: {diverged} of {golden.Count} rows diverge; largest |top-2 gap - reference margin| {worst:E2}");
        if (kv == KvCacheDType.F16)
            Assert.AreEqual(0, diverged, "with an f16 KV cache every golden row is reproduced in full");
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, "every KV block is free once all requests finish");
    }

    [TestMethod]
    public void HalfKvCache_HoldsTwiceTheBlocksInTheSameMemory()
    {
        int Blocks(KvCacheDType t)
        {
            // 400 f32 blocks of stories260K: 5 layers x (K, V) x 4 KV heads x 16 tokens x head size 8 x 4 bytes.
            using var e = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { KvMemoryBytes = 400 * 20480, KvCacheDType = t });
            return e.NumKvBlocks;
        }

        int f32 = Blocks(KvCacheDType.F32);
        Assert.AreEqual(400, f32);
        Assert.AreEqual(f32, Blocks(KvCacheDType.Auto), "auto is f32 (the compute type)");
        Assert.AreEqual(2 * f32, Blocks(KvCacheDType.BF16));
        Assert.AreEqual(2 * f32, Blocks(KvCacheDType.F16));
    }

    // Forks (n = 2: copy-on-write of the prompt's last block), chunked prefill and both preemption modes
    // under memory pressure move or recompute the same rounded K/V: the tokens equal the unpressured run's.
    /// <summary>bf16 on cpu, f16 on each device (one kv type per device keeps the emulator's share short).</summary>
    public static IEnumerable<object[]> ForkRows =>
        new[] { new object[] { "cpu", KvCacheDType.BF16 } }.Concat(DeviceEndToEndTests.DeviceRows.Select(r => new object[] { r[0], KvCacheDType.F16 }));

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DynamicData(nameof(ForkRows))]
    public void HalfKvCache_ForksChunksAndPreemptionKeepTheTokens(string device, KvCacheDType kv)
    {
        DeviceEndToEndTests.RequireDevice(device);
        var golden = GoldenTests.LoadGolden();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = 40, N = 2 })).ToList();
        IReadOnlyList<RequestOutput> Run(EngineOptions o, out EngineCounters counters) => EngineRuns.Generate(o, requests, out counters);

        var baseline = Run(new EngineOptions { Device = device, MaxNumSeqs = 16, KvCacheDType = kv }, out var bc);
        Assert.IsGreaterThan(0L, bc.BlockCopies, "n = 2 forks the prompt's last block");
        foreach (var mode in new[] { PreemptionMode.Swap, PreemptionMode.Recompute })
        {
            var o = new EngineOptions { Device = device, MaxNumSeqs = 16, NumKvBlocks = 24, Preemption = mode, MaxNumBatchedTokens = 32, KvCacheDType = kv };
            var outputs = Run(o, out var counters);
            Assert.IsGreaterThan(0L, counters.Preemptions, $"{mode}: 24 blocks cannot hold 16 sequences");
            for (int i = 0; i < requests.Count; i++)
                for (int c = 0; c < 2; c++)
                    CollectionAssert.AreEqual(baseline[i].Completions[c].TokenIds.ToArray(), outputs[i].Completions[c].TokenIds.ToArray(), $"{kv} {mode}: '{golden[i].Prompt}' completion {c}");
        }
    }
}
