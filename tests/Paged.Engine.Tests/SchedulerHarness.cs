using Paged.Engine.Scheduling;

namespace Paged.Engine.Tests;

/// <summary>Drives a <see cref="Scheduler"/> with a <see cref="FakeExecutor"/> the way the engine does, and checks invariants.</summary>
internal sealed class SchedulerHarness
{
    private readonly List<(Sequence Seq, int Token)> _sampled = [];
    private readonly Dictionary<Request, int> _promptServed = [];
    private long _nextRequest;
    private long _nextSeq;

    public SchedulerHarness(SchedulerConfig config, bool verifyKv = true)
    {
        Scheduler = new Scheduler(config);
        Executor = new FakeExecutor(config.NumBlocks, config.BlockSize) { Verify = verifyKv };
    }

    public Scheduler Scheduler { get; }

    public FakeExecutor Executor { get; }

    public List<Request> Live { get; } = [];

    public List<Request> Done { get; } = [];

    /// <summary>Service (weighted tokens) each tenant received: prompt tokens computed the first time, and generated tokens.</summary>
    public Dictionary<string, (long Prompt, long Output)> Service { get; } = [];

    public bool StopOnZero { get; init; } = true;

    public Request Add(int[] prompt, int maxTokens, int n = 1, ulong seed = 1, int priority = 0, string tenant = "")
    {
        var r = new Request(_nextRequest++, "", prompt, new SamplingParams { MaxTokens = maxTokens, N = n, Temperature = 1 }, 0, priority, tenant);
        r.CreateSequences(seed, () => null, ref _nextSeq);
        Scheduler.Add(r);
        Live.Add(r);
        return r;
    }

    public void Abort(Request r)
    {
        foreach (var s in r.Sequences)
        {
            if (s.Status != SequenceStatus.Finished)
            {
                Scheduler.Finish(s);
                s.FinishReason = FinishReason.Abort;
            }
        }

        Live.Remove(r);
    }

    /// <summary>One engine step; returns the plan (valid until the next step).</summary>
    public StepPlan Step()
    {
        var decodes = Scheduler.Running.Where(s => s.Length - s.NumComputed == 1).ToList();
        var plan = Scheduler.Schedule();
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

        if (plan.IsEmpty)
        {
            // As the engine does: an empty plan runs the executor only for block moves.
            _sampled.Clear();
            if (plan.HasWork)
                Executor.Execute(plan, _sampled);
            return plan;
        }

        Executor.Execute(plan, _sampled);
        Scheduler.CompleteStep(plan, _sampled);
        foreach (var (seq, token) in _sampled)
        {
            var t = seq.Request.Tenant;
            var s = Service[t];
            Service[t] = (s.Prompt, s.Output + 1);
            if ((StopOnZero && token == 0) || seq.NumGenerated >= seq.Sampling.MaxTokens)
            {
                seq.FinishReason = token == 0 ? FinishReason.Stop : FinishReason.Length;
                Scheduler.Finish(seq);
            }
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
        if (kv.Cache is { } cache)
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
