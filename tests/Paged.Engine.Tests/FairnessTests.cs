using Paged.Engine.Scheduling;

namespace Paged.Engine.Tests;

/// <summary>
/// The fair policy (Virtual Token Counter) and the priority policy on the fake executor. Service is
/// counted as in VTC: 1 per prompt token computed (first time) + 2 per generated token. The bound used
/// is VTC's 2U with U = w_out x M, where M is the most tokens the running batch can hold
/// (max_num_seqs x (prompt + max_tokens)).
/// </summary>
[TestClass]
public sealed class FairnessTests
{
    private const int Prompt = 32;
    private const int Output = 32;
    private const int MaxSeqs = 8;
    private const double U = 2.0 * MaxSeqs * (Prompt + Output);

    private static SchedulerHarness NewHarness(SchedulingPolicy policy, IReadOnlyDictionary<string, double>? weights = null) =>
        new(new SchedulerConfig
        {
            NumBlocks = 1024,
            BlockSize = 16,
            MaxNumSeqs = MaxSeqs,
            MaxNumBatchedTokens = 256,
            PrefixCaching = false,
            Policy = policy,
            FairShare = new FairShareOptions { TenantWeights = weights },
        }, verifyKv: false, stopOnZero: false);

    private static int[] PromptOf(int i) => [.. Enumerable.Range(0, Prompt).Select(t => 1 + ((t * 7) + i) % 40)];

    private static double Served(SchedulerHarness h, string tenant) =>
        h.Service.TryGetValue(tenant, out var s) ? s.Prompt + (2.0 * s.Output) : 0;

    /// <summary>Flooding tenant: 300 requests at once; light tenant: one request every 10 steps.</summary>
    private static (int MaxLightWait, double WorstGap) FloodAndLight(SchedulingPolicy policy)
    {
        var h = NewHarness(policy);
        for (int i = 0; i < 300; i++)
            h.Add(PromptOf(i), Output, tenant: "flood");
        var lightArrivals = new Dictionary<Request, int>();
        int maxWait = 0;
        double worstGap = 0;
        var history = new List<(double Flood, double Light, bool LightBacklogged)>();
        for (int step = 0; step < 600; step++)
        {
            if (step % 10 == 0)
                lightArrivals[h.Add(PromptOf(1000 + step), Output, tenant: "light")] = step;
            bool lightWaiting = h.Scheduler.Waiting.Any(s => s.Request.Tenant == "light");
            history.Add((Served(h, "flood"), Served(h, "light"), lightWaiting));
            h.Step();
            foreach (var (r, at) in lightArrivals)
            {
                if (r.Sequences[0].Status != SequenceStatus.Waiting)
                {
                    maxWait = Math.Max(maxWait, step - at);
                    lightArrivals.Remove(r);
                }
            }
        }

        foreach (var at in lightArrivals.Values)
            maxWait = Math.Max(maxWait, history.Count - at);

        // Over every interval in which the light tenant stayed backlogged, the flooding tenant got at most 2U more.
        for (int a = 0; a < history.Count; a++)
        {
            for (int b = a + 1; b < history.Count && history[b - 1].LightBacklogged; b++)
            {
                double gap = (history[b].Flood - history[a].Flood) - (history[b].Light - history[a].Light);
                worstGap = Math.Max(worstGap, gap);
            }
        }

        return (maxWait, worstGap);
    }

    [TestMethod]
    public void LightTenant_IsServedPromptlyNextToAFloodingOne()
    {
        var (fairWait, fairGap) = FloodAndLight(SchedulingPolicy.Fair);
        var (fcfsWait, _) = FloodAndLight(SchedulingPolicy.Fcfs);
        Console.WriteLine($"fair: max light wait {fairWait} steps, worst flood-light gap {fairGap} (2U = {2 * U}); fcfs: max light wait {fcfsWait}");
        Assert.IsLessThanOrEqualTo(2 * U, fairGap, "VTC bound while the light tenant is backlogged");
        Assert.IsLessThanOrEqualTo(Output + 2, fairWait, $"the light tenant waits at most one request's lifetime (fcfs: {fcfsWait})");
        Assert.IsGreaterThan(100, fcfsWait, "first come, first served makes the light tenant queue behind the flood");
    }

    [TestMethod]
    [DataRow(1.0, 1.0)]
    [DataRow(1.0, 2.0)]
    [DataRow(1.0, 3.0)]
    public void WeightedTenants_GetServiceInProportionToTheirWeights(double wa, double wb)
    {
        var h = NewHarness(SchedulingPolicy.Fair, new Dictionary<string, double> { ["a"] = wa, ["b"] = wb });
        for (int i = 0; i < 400; i++)
        {
            h.Add(PromptOf(i), Output, tenant: "a");
            h.Add(PromptOf(i + 400), Output, tenant: "b");
        }

        double worst = 0;
        for (int step = 0; step < 1500; step++)
        {
            h.Step();
            Assert.IsTrue(h.Scheduler.Waiting.Any(s => s.Request.Tenant == "a") && h.Scheduler.Waiting.Any(s => s.Request.Tenant == "b"), "both stay backlogged");
            worst = Math.Max(worst, Math.Abs((Served(h, "a") / wa) - (Served(h, "b") / wb)));
        }

        Assert.IsLessThanOrEqualTo(2 * U, worst, "normalized service stays within the VTC bound");
        double ratio = Served(h, "b") / Served(h, "a");
        Console.WriteLine($"weights {wa}:{wb}: service {Served(h, "a")}:{Served(h, "b")} (ratio {ratio:F3}), worst normalized gap {worst} (2U = {2 * U})");
        Assert.AreEqual(wb / wa, ratio, 0.1 * wb / wa, $"service ratio {ratio:F3}");
    }

    [TestMethod]
    public void Priority_AdmitsUrgentWorkFirst_AndPreemptsLowerPriority()
    {
        var h = new SchedulerHarness(new SchedulerConfig
        {
            NumBlocks = 12, BlockSize = 4, MaxNumSeqs = 2, MaxNumBatchedTokens = 64, Policy = SchedulingPolicy.Priority,
        }, stopOnZero: false);
        var low1 = h.Add(PromptOf(1)[..8], 16, priority: 5);
        var low2 = h.Add(PromptOf(2)[..8], 16, priority: 5);
        h.Step();
        h.Step();
        Assert.AreEqual(SequenceStatus.Running, low1.Sequences[0].Status);
        Assert.AreEqual(SequenceStatus.Running, low2.Sequences[0].Status);
        var urgent = h.Add(PromptOf(3)[..8], 4, priority: 0);
        var plan = h.Step();
        h.CheckInvariants();
        Assert.AreEqual(SequenceStatus.Running, urgent.Sequences[0].Status, "the urgent request runs at once");
        Assert.AreEqual(1, plan.Preempted.Count);
        Assert.AreSame(low2.Sequences[0], plan.Preempted[0], "the latest low-priority request gives way");
        h.Drain();
        Assert.AreEqual(3, h.Done.Count);
        Assert.IsLessThan(h.Done.IndexOf(low2), h.Done.IndexOf(urgent));
    }
}
