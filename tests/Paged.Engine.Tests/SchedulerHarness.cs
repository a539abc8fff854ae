using Paged.Engine.Scheduling;

namespace Paged.Engine.Tests;

/// <summary>
/// Drives the engine's own loop (<see cref="EngineCore"/>: schedule, execute, complete, token stop rules) with a
/// <see cref="FakeExecutor"/>, and checks invariants. Token 0 is the end-of-sequence token.
/// </summary>
internal sealed class SchedulerHarness
{
    private readonly Dictionary<Request, int> _promptServed = [];
    private long _nextRequest;
    private long _nextSeq;

    public SchedulerHarness(SchedulerConfig config, bool verifyKv = true, bool stopOnZero = true)
    {
        Executor = new FakeExecutor(config.NumBlocks, config.BlockSize) { Verify = verifyKv };
        Core = new EngineCore(new Scheduler(config), Executor, stopOnZero ? [0] : [], int.MaxValue);
    }

    public EngineCore Core { get; }

    public Scheduler Scheduler => Core.Scheduler;

    public FakeExecutor Executor { get; }

    public List<Request> Live { get; } = [];

    public List<Request> Done { get; } = [];

    /// <summary>Service (weighted tokens) each tenant received: prompt tokens computed the first time, and generated tokens.</summary>
    public Dictionary<string, (long Prompt, long Output)> Service { get; } = [];

    public Request Add(int[] prompt, int maxTokens, int n = 1, ulong seed = 1, int priority = 0, string tenant = "")
    {
        var r = new Request(_nextRequest++, "", prompt, new SamplingParams { MaxTokens = maxTokens, N = n, Temperature = 1 }, 0, priority, tenant);
        r.CreateSequences(seed, ref _nextSeq);
        Core.Add(r);
        Live.Add(r);
        return r;
    }

    public void Abort(Request r)
    {
        Core.Finish(r, FinishReason.Abort);
        Live.Remove(r);
    }

    /// <summary>One engine step; returns the plan (valid until the next step).</summary>
    public StepPlan Step()
    {
        var decodes = Scheduler.Running.Where(s => s.Length - s.NumComputed == 1).ToList();
        var step = Core.Step();
        var plan = step.Plan;
        Assert.IsNull(step.Fault, $"the fake executor failed: {step.Fault}");
        var config = Scheduler.Config;
        Assert.IsLessThanOrEqualTo(config.MaxNumBatchedTokens, plan.NumTokens, "token budget");
        Assert.IsLessThanOrEqualTo(config.MaxNumSeqs, plan.Chunks.Count, "max_num_seqs");
        if (config.MaxNumBatchedTokens >= config.MaxNumSeqs)
        {
            var scheduled = plan.Chunks.Select(c => c.Sequence).ToHashSet();
            foreach (var d in decodes)
                Assert.IsTrue(scheduled.Contains(d) || plan.Preempted.Contains(d), $"decode of seq {d.Id} starved");
        }
        foreach (var c in plan.Chunks)
        {
            var seq = c.Sequence;
            int promptEnd = seq.PromptTokenIds.Count;
            _promptServed.TryGetValue(seq.Request, out int served);
            int end = Math.Min(promptEnd, c.Start + c.Count);
            int newPrompt = Math.Max(0, end - served);
            if (end > served)
                _promptServed[seq.Request] = end;
            var t = seq.Request.Tenant;
            Service.TryGetValue(t, out var s);
            Service[t] = (s.Prompt + newPrompt, s.Output);
        }

        foreach (var (seq, _) in step.Sampled)
        {
            var t = seq.Request.Tenant;
            var s = Service[t];
            Service[t] = (s.Prompt, s.Output + 1);
        }

        for (int i = Live.Count - 1; i >= 0; i--)
        {
            if (Live[i].IsFinished)
            {
                Done.Add(Live[i]);
                Live.RemoveAt(i);
            }
        }

        return plan;
    }

    /// <summary>Every invariant the scheduler and KV-cache manager must keep between steps.</summary>
    public void CheckInvariants()
    {
        var kv = Scheduler.Kv;
        var pool = kv.Pool;
        var refs = new int[pool.NumBlocks];
        var seen = new HashSet<long>();
        foreach (var r in Live)
        {
            foreach (var s in r.Sequences)
            {
                if (s.Status is SequenceStatus.Waiting or SequenceStatus.AwaitingFork)
                    Assert.AreEqual(0, s.BlockTable.Count, $"waiting seq {s.Id} holds blocks");
                if (s.Status == SequenceStatus.Swapped)
                    Assert.AreEqual(0, s.BlockTable.Count, $"swapped seq {s.Id} holds device blocks");
                if (s.Status == SequenceStatus.Finished)
                    Assert.AreEqual(0, s.BlockTable.Count, $"finished seq {s.Id} holds blocks");
                foreach (int b in s.BlockTable)
                {
                    refs[b]++;
                    Assert.IsFalse(pool.IsFree(b), $"block {b} of seq {s.Id} is free");
                }

                Assert.IsTrue(s.BlockTable.Count >= (s.NumComputed + kv.BlockSize - 1) / kv.BlockSize || s.Status != SequenceStatus.Running);
                // Private (ref 1) partial tail blocks: no two live sequences write the same slot next.
                if (s.Status == SequenceStatus.Running && s.NumComputed % kv.BlockSize != 0 && s.BlockTable.Count > s.NumComputed / kv.BlockSize)
                {
                    int b = s.BlockTable[s.NumComputed / kv.BlockSize];
                    if (pool.RefCount(b) == 1)
                        Assert.IsTrue(seen.Add(((long)b * kv.BlockSize) + (s.NumComputed % kv.BlockSize)), $"two sequences write slot of block {b}");
                }
            }
        }

        int free = 0;
        for (int b = 0; b < pool.NumBlocks; b++)
        {
            Assert.AreEqual(refs[b], pool.RefCount(b), $"block {b}: ref count vs block-table entries");
            if (pool.IsFree(b))
                free++;
        }

        Assert.AreEqual(free, pool.NumFree);
        Assert.AreEqual(free, pool.FreeListOrder().Count(), "free list length");
        long filled = 0;
        for (int b = 0; b < pool.NumBlocks; b++)
        {
            if (!pool.IsFree(b))
                filled += pool.Filled(b);
        }

        Assert.AreEqual(filled, pool.FilledSlotsInUse, "filled-slot total");
        if (kv.PrefixCache is { } cache)
        {
            for (int b = 0; b < pool.NumBlocks; b++)
            {
                if (cache.IsCached(b))
                    Assert.IsTrue(cache.TokensOf(b).SequenceEqual(Executor.Block(b)), $"cached block {b} holds other tokens than it was stored for");
            }
        }

        Assert.IsLessThanOrEqualTo(Scheduler.Config.MaxNumSeqs, Scheduler.NumRunning, "max_num_seqs");
    }

    /// <summary>Steps until nothing is left (fails after <paramref name="maxSteps"/>).</summary>
    public void Drain(int maxSteps = 200_000, bool check = true)
    {
        for (int i = 0; Scheduler.HasWork; i++)
        {
            Assert.IsLessThan(maxSteps, i, "the scheduler made no progress");
            var plan = Step();
            if (check)
                CheckInvariants();
        }
    }
}
