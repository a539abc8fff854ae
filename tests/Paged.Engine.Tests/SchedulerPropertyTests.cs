using CsCheck;
using Paged.Engine.Scheduling;

namespace Paged.Engine.Tests;

/// <summary>
/// Random workloads (arrivals, prompt lengths with shared prefixes, n, priorities, tenants,
/// cancellations, memory pressure) against random scheduler configurations, checking every invariant
/// after every step, that nothing leaks once all work is done, and that the tokens each request
/// produces do not depend on memory pressure or preemption mode. Block sizes 1 to 16 (16 is the engine's
/// default); the cases are fixed by a default seed (<see cref="PropertySeeds"/>, PAGED_PROPERTY_SEED overrides it).
/// </summary>
[TestClass]
public sealed class SchedulerPropertyTests
{
    public TestContext TestContext { get; set; } = null!;

    internal sealed record Workload(
        int BlockSize, int NumBlocks, int MaxNumSeqs, int MaxTokens, bool PrefixCaching, bool Chunked,
        PreemptionMode Preemption, int SwapBlocks, SchedulingPolicy Policy, ulong Seed, int ArrivalSteps)
    {
        public SchedulerConfig Config => new()
        {
            BlockSize = BlockSize,
            NumBlocks = NumBlocks,
            MaxNumSeqs = MaxNumSeqs,
            MaxNumBatchedTokens = MaxTokens,
            PrefixCaching = PrefixCaching,
            ChunkedPrefill = Chunked,
            Preemption = Preemption,
            SwapBlocks = SwapBlocks,
            Policy = Policy,
        };
    }

    private static readonly Gen<Workload> Workloads = Gen.Select(
        Gen.Int[0, 4].Select(i => 1 << i), Gen.Int[4, 48], Gen.Int[1, 8], Gen.Int[1, 48], Gen.Bool, Gen.Bool,
        Gen.Enum<PreemptionMode>(), Gen.Int[0, 48], Gen.Enum<SchedulingPolicy>(), Gen.ULong, Gen.Int[20, 500],
        (bs, blocks, seqs, tokens, prefix, chunked, preemption, swap, policy, seed, steps) =>
            new Workload(bs, blocks, seqs, tokens, prefix, chunked, preemption, swap, policy, seed, steps));

    /// <summary>Runs a workload; returns the generated tokens of every request that was not cancelled, and the steps taken.</summary>
    internal static (Dictionary<long, int[][]> Outputs, long Steps, long Preemptions) Run(Workload w, bool check, bool cancel = true, SchedulerConfig? config = null)
    {
        var h = new SchedulerHarness(config ?? w.Config, verifyKv: check);
        var random = new Random((int)(w.Seed % int.MaxValue));
        int capacity = w.NumBlocks * w.BlockSize;
        var prefixes = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, random.Next(1, 40)).Select(_ => random.Next(1, 50)).ToArray()).ToArray();
        var cancelled = new HashSet<long>();
        for (int step = 0; step < w.ArrivalSteps || h.Scheduler.HasWork; step++)
        {
            Assert.IsLessThan(200_000, step, $"no progress: {w}");
            if (step < w.ArrivalSteps)
            {
                int arrivals = random.Next(0, 4) == 0 ? random.Next(1, 4) : 0;
                for (int a = 0; a < arrivals; a++)
                {
                    int maxTokens = random.Next(1, 24);
                    int promptLen = Math.Max(1, Math.Min(random.Next(1, 60), capacity - maxTokens));
                    if (promptLen + maxTokens > capacity)
                        continue;
                    var prefix = prefixes[random.Next(prefixes.Length)];
                    var prompt = Enumerable.Range(0, promptLen).Select(i => i < prefix.Length && random.Next(8) != 0 ? prefix[i] : random.Next(1, 50)).ToArray();
                    int n = Math.Min(w.MaxNumSeqs, random.Next(4) == 0 ? random.Next(2, 5) : 1);
                    h.Add(prompt, maxTokens, n, (ulong)random.NextInt64(), random.Next(3), "t" + random.Next(3));
                }

                if (cancel && h.Live.Count > 0 && random.Next(25) == 0)
                {
                    var victim = h.Live[random.Next(h.Live.Count)];
                    cancelled.Add(victim.Id);
                    h.Abort(victim);
                }
            }

            if (!h.Scheduler.HasWork)
                continue;
            h.Step();
            if (check)
                h.CheckInvariants();
        }

        var pool = h.Scheduler.Kv.Pool;
        Assert.AreEqual(pool.NumBlocks, pool.NumFree, $"blocks leak: {w}");
        for (int b = 0; b < pool.NumBlocks; b++)
            Assert.AreEqual(0, pool.RefCount(b));
        h.Scheduler.Schedule();
        Assert.AreEqual(h.Scheduler.Kv.NumHostSlots, h.Scheduler.Kv.NumFreeHostSlots, "swap slots leak");
        var outputs = h.Done.Where(r => !cancelled.Contains(r.Id))
            .ToDictionary(r => r.Id, r => r.Sequences.Select(s => s.Tokens.Skip(s.PromptTokenIds.Count).ToArray()).ToArray());
        return (outputs, h.Executor.Steps, h.Scheduler.Preemptions);
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void RandomWorkloads_KeepEveryInvariant_AndLeakNothing()
    {
        long steps = 0;
        long preemptions = 0;
        PropertySeeds.Sample(Workloads, w =>
        {
            var (_, s, p) = Run(w, check: true);
            Interlocked.Add(ref steps, s);
            Interlocked.Add(ref preemptions, p);
        }, iterations: 400, TestContext.CancellationToken);
        Console.WriteLine($"{steps} steps, {preemptions} preemptions");
        Assert.IsGreaterThan(20_000L, steps, $"tens of thousands of steps ({steps})");
        Assert.IsGreaterThan(100L, preemptions, "memory pressure must cause preemptions");
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public void Outputs_DoNotDependOnMemoryPressureOrPreemptionMode()
    {
        PropertySeeds.Sample(Workloads, w =>
        {
            var roomy = w.Config with { NumBlocks = 4096, MaxNumSeqs = 64, MaxNumBatchedTokens = 4096, Preemption = PreemptionMode.Recompute };
            var (expected, _, _) = Run(w, check: false, cancel: false, roomy);
            foreach (var mode in new[] { PreemptionMode.Recompute, PreemptionMode.Swap })
            {
                var (actual, _, _) = Run(w with { Preemption = mode }, check: false, cancel: false);
                Assert.HasCount(expected.Count, actual);
                foreach (var (id, completions) in expected)
                {
                    for (int i = 0; i < completions.Length; i++)
                        CollectionAssert.AreEqual(completions[i], actual[id][i], $"request {id} completion {i} ({mode}, {w})");
                }
            }
        }, iterations: 40, TestContext.CancellationToken);
    }
}
