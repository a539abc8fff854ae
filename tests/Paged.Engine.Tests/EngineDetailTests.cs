using Paged.Engine.Kv;
using Paged.Engine.Scheduling;

namespace Paged.Engine.Tests;

/// <summary>The block map and tenant loads behind the console's dashboard, checked after every step of a busy workload.</summary>
[TestClass]
public sealed class EngineDetailTests
{
    [TestMethod]
    public void BlockMapAndTenantLoadsAgreeWithThePoolAndTheQueuesAtEveryStep()
    {
        // Few blocks (preemption), a shared prompt (prefix hits, cached blocks), n = 2 (shared blocks), three tenants.
        var h = new SchedulerHarness(new SchedulerConfig
        {
            NumBlocks = 24,
            BlockSize = 4,
            MaxNumSeqs = 6,
            MaxNumBatchedTokens = 32,
            Policy = SchedulingPolicy.Fair,
            Preemption = PreemptionMode.Swap,
            SwapBlocks = 24,
        });
        int[] shared = [5, 6, 7, 8, 9, 10, 11, 12];
        string[] tenants = ["a", "b", "c"];
        for (int i = 0; i < 12; i++)
            h.Add([.. shared, 20 + i], maxTokens: 10 + i, n: i % 3 == 0 ? 2 : 1, seed: (ulong)i + 1, tenant: tenants[i % 3]);

        bool sawShared = false, sawCached = false, sawSwapped = false;
        for (int step = 0; step < 10_000 && h.Live.Count > 0; step++)
        {
            h.Step();
            var kv = h.Scheduler.Kv;
            var map = KvBlockMap.Capture(kv);
            Assert.HasCount(kv.Pool.NumBlocks, map.States);
            for (int b = 0; b < kv.Pool.NumBlocks; b++)
            {
                int refs = kv.Pool.RefCount(b);
                var expected = refs > 1 ? KvBlockState.Shared : refs == 1 ? KvBlockState.Used
                    : kv.PrefixCache!.IsCached(b) ? KvBlockState.Cached : KvBlockState.Free;
                Assert.AreEqual(expected, map.States[b], $"block {b} at step {step}");
            }

            Assert.AreEqual(kv.Pool.NumUsed, map.Used + map.Shared);
            Assert.AreEqual(kv.Pool.NumFree, map.Free + map.Cached);
            Assert.AreEqual(kv.NumHostSlots - kv.NumFreeHostSlots, map.HostSlotsUsed);

            var loads = TenantLoad.Capture(h.Scheduler);
            Assert.AreEqual(h.Scheduler.NumRunning, loads.Sum(l => l.Running));
            Assert.AreEqual(h.Scheduler.NumWaiting, loads.Sum(l => l.Waiting));
            Assert.AreEqual(h.Scheduler.NumSwapped, loads.Sum(l => l.Swapped));
            foreach (var l in loads)
                Assert.AreEqual(h.Scheduler.TenantCounter(l.Tenant), l.Counter);
            CollectionAssert.IsSubsetOf(loads.Select(l => l.Tenant).ToArray(), tenants);
            sawShared |= map.Shared > 0;
            sawCached |= map.Cached > 0;
            sawSwapped |= map.HostSlotsUsed > 0;
        }

        Assert.HasCount(0, h.Live, "the workload finished");
        Assert.IsTrue(sawShared && sawCached, $"the workload exercised shared ({sawShared}) and cached ({sawCached}) blocks");
        Assert.IsTrue(sawSwapped, "the workload swapped");
        Assert.HasCount(0, TenantLoad.Capture(h.Scheduler));
    }
}
