using Paged.Engine.Kv;
using Paged.Engine.KvTransfer;

namespace Paged.Engine.Scheduling;

/// <summary>
/// Continuous batching in the unified token-budget style. Each step first grants tokens to running
/// sequences (one for a decode, a chunk for an unfinished prefill), then swaps preempted sequences
/// back in, then admits waiting ones in policy order, all bounded by max_num_batched_tokens and
/// max_num_seqs (a request with n samples counts n). When blocks run out, the last running sequence in
/// policy order is preempted by recompute or swap; under the priority policy a waiting request may
/// also preempt running work of a lower priority. Sequences preempted in a step are not resumed in
/// the same step. <see cref="CompleteStep"/> applies the executed step: computed counts, prefix-cache
/// registration, forks of n > 1 requests, and the sampled tokens.
/// </summary>
public sealed class Scheduler
{
    private readonly SchedulerConfig _config;
    private readonly WaitingQueue _waiting;
    private readonly List<Sequence> _running = [];
    private readonly List<Sequence> _swapped = [];
    private readonly StepPlan _plan = new();
    private readonly int _maxTokens;
    private readonly IKvConnector? _connector;
    private int _runningWidth;

    private readonly IAdapterGate? _adapters;

    /// <param name="connector">Supplies prompts' KV from elsewhere and holds finished prefills (disaggregated serving); null for none.</param>
    /// <param name="adapters">Keeps running sequences' LoRA adapters resident (null: no adapters).</param>
    public Scheduler(SchedulerConfig config, BlockHasher? hasher = null, IKvConnector? connector = null, IAdapterGate? adapters = null)
    {
        _connector = connector;
        _adapters = adapters;
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        _maxTokens = config.MaxNumBatchedTokens;
        Kv = new KvCacheManager(config.NumBlocks, config.BlockSize, config.PrefixCaching,
            config.Preemption == PreemptionMode.Swap ? config.SwapBlocks : 0, hasher) { SlidingWindow = config.SlidingWindow };
        _waiting = WaitingQueue.Create(config.Policy, config.FairShare);
    }

    public SchedulerConfig Config => _config;

    public KvCacheManager Kv { get; }

    public int NumWaiting => _waiting.Count;

    public int NumRunning => _running.Count;

    public int NumSwapped => _swapped.Count;

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0 || _swapped.Count > 0;

    public IReadOnlyList<Sequence> Running => _running;

    public IReadOnlyList<Sequence> Swapped => _swapped;

    public IEnumerable<Sequence> Waiting => _waiting.Items;

    public long Preemptions { get; private set; }

    /// <summary>Preemptions of a sequence whose prompt was partly computed (a chunked prefill in progress).</summary>
    public long PrefillPreemptions { get; private set; }

    public long SwapOuts { get; private set; }

    /// <summary>Virtual token counter of a tenant (fair policy; 0 otherwise).</summary>
    public double TenantCounter(string tenant) => _waiting is VtcQueue v ? v.Counter(tenant) : 0;

    /// <summary>Queues a request's first sequence (its siblings follow by forking).</summary>
    public void Add(Request request)
    {
        ArgumentNullException.ThrowIfNull(request);
        _waiting.Enqueue(request.Sequences[0]);
    }

    /// <summary>Removes a finished or aborted sequence wherever it is and frees its blocks and swap slots.</summary>
    public void Finish(Sequence seq)
    {
        ArgumentNullException.ThrowIfNull(seq);
        switch (seq.Status)
        {
            case SequenceStatus.Running:
                RemoveRunning(seq);
                break;
            case SequenceStatus.Waiting:
                _waiting.Remove(seq);
                break;
            case SequenceStatus.Swapped:
                _swapped.Remove(seq);
                Kv.DropSwapped(seq);
                break;
            default:
                break;
        }

        _connector?.OnFinishing(seq, Kv);
        Kv.Free(seq);
        foreach (var child in seq.PendingForks)
            child.Status = SequenceStatus.Finished;
        seq.PendingForks.Clear();
        seq.Status = SequenceStatus.Finished;
    }

    /// <summary>Decides the next step. The returned plan is reused by the next call.</summary>
    public StepPlan Schedule()
    {
        var plan = _plan;
        plan.Clear();
        Kv.BeginStep();
        int budget = _maxTokens;
        PreemptForPriority(plan);
        int preemptedBefore = plan.Preempted.Count;

        // 1. Running sequences, in policy order; preempt from the back when blocks run out. Budget is
        //    held back for the decodes further down the list, so prefill chunks never starve them.
        int decodesLeft = 0;
        foreach (var r in _running)
        {
            if (r.Length - r.NumComputed == 1)
                decodesLeft++;
        }

        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            int remaining = seq.Length - seq.NumComputed;
            if (remaining <= 0)
                continue;
            bool decode = remaining == 1;
            if (decode)
                decodesLeft--;
            int available = decode ? budget : budget - decodesLeft;
            if (available <= 0 || (MustBeWhole(remaining) && remaining > available))
                continue;
            int count = Math.Min(remaining, available);
            bool preemptedSelf = false;
            while (!Kv.TryAllocate(seq, count, plan))
            {
                var victim = _running[^1];
                if (victim != seq && victim.Length - victim.NumComputed == 1)
                    decodesLeft--;
                Preempt(victim, plan);
                if (victim == seq)
                {
                    preemptedSelf = true;
                    break;
                }
            }

            if (preemptedSelf)
                break;
            Grant(seq, count, plan);
            budget -= count;
        }

        if (plan.Preempted.Count == preemptedBefore)
        {
            // 2. Swapped sequences come back first, oldest first.
            while (_swapped.Count > 0 && budget > 0 && _runningWidth < _config.MaxNumSeqs)
            {
                var seq = _swapped[0];
                int count = Math.Min(seq.Length - seq.NumComputed, budget);
                if (MustBeWhole(seq.Length - seq.NumComputed) && count < seq.Length - seq.NumComputed)
                    break;
                if (Kv.BlocksNeededToSwapIn(seq, count) > Kv.Pool.NumFree || !CanRunAdapter(seq))
                    break;
                _swapped.RemoveAt(0);
                Kv.SwapIn(seq, plan);
                if (!Kv.TryAllocate(seq, count, plan))
                    throw new InvalidOperationException("swap-in allocation failed after the check");
                InsertRunning(seq);
                Grant(seq, count, plan);
                budget -= count;
            }

            // 3. Waiting sequences, in policy order.
            if (_swapped.Count == 0)
                budget = AdmitWaiting(budget, plan);
        }

        return plan;
    }

    private bool MustBeWhole(int remaining) => !_config.ChunkedPrefill && remaining <= _maxTokens;

    private int AdmitWaiting(int budget, StepPlan plan)
    {
        while (budget > 0 && _waiting.Peek() is { } seq)
        {
            if (_runningWidth + 1 + seq.PendingForks.Count > _config.MaxNumSeqs)
                break;
            if (_connector?.ExternalTokens(seq) is int external and > 0)
            {
                if (!AdmitLoaded(seq, external, plan))
                    break;
                continue;
            }

            int count = AdmissionCost(seq, budget, out int hits, out int blocksNeeded);
            if (count == 0 || blocksNeeded > Kv.Pool.NumFree || !CanRunAdapter(seq))
                break;
            _waiting.Dequeue(seq);
            Kv.AttachCachedPrefix(seq, hits);
            if (seq.Preemptions == 0 && seq.NumGenerated == 0)
                seq.Request.CachedPromptTokens = hits * Kv.BlockSize;
            if (!Kv.TryAllocate(seq, count, plan))
                throw new InvalidOperationException("admission allocation failed after the check");
            InsertRunning(seq);
            Grant(seq, count, plan);
            budget -= count;
        }

        return budget;
    }

    /// <summary>
    /// Admits a sequence whose first <paramref name="external"/> prompt tokens the connector supplies: blocks for
    /// them, a planned load instead of a chunk (no compute), and <see cref="CompleteStep"/> applies it. False when
    /// the blocks are not free yet.
    /// </summary>
    private bool AdmitLoaded(Sequence seq, int external, StepPlan plan)
    {
        if (Kv.BlocksFor(external) > Kv.Pool.NumFree)
            return false;
        _waiting.Dequeue(seq);
        if (!Kv.TryAllocate(seq, external, plan))
            throw new InvalidOperationException("load allocation failed after the check");
        _connector!.PlanLoad(seq, plan);
        InsertRunning(seq);
        return true;
    }

    /// <summary>Tokens a waiting sequence would get now (0 = it cannot start: its prefill must be whole), after its cached prefix, and the free blocks that takes.</summary>
    private int AdmissionCost(Sequence seq, int budget, out int hits, out int blocksNeeded)
    {
        hits = Kv.FindCachedPrefix(seq, out int revived);
        int start = hits * Kv.BlockSize;
        int remaining = seq.Length - start;
        int count = Math.Min(remaining, budget);
        if (MustBeWhole(remaining) && count < remaining)
            count = 0;
        blocksNeeded = Kv.BlocksFor(start + count) - hits + revived;
        return count;
    }

    /// <summary>
    /// Priority policy: while the most important waiting request cannot be admitted (sequence cap or
    /// blocks), preempt running work of a strictly lower priority, least important first.
    /// </summary>
    private void PreemptForPriority(StepPlan plan)
    {
        if (_config.Policy != SchedulingPolicy.Priority || _waiting.Peek() is not { } seq)
            return;
        while (_running.Count > 0 && _running[^1].Request.Priority > seq.Request.Priority)
        {
            bool seqsFull = _runningWidth + 1 + seq.PendingForks.Count > _config.MaxNumSeqs;
            int count = AdmissionCost(seq, _maxTokens, out _, out int blocksNeeded);
            if (!seqsFull && count > 0 && blocksNeeded + _running.Count <= Kv.Pool.NumFree)
                return;
            Preempt(_running[^1], plan);
        }
    }

    private void Grant(Sequence seq, int count, StepPlan plan)
    {
        var chunk = new ScheduledChunk(seq, seq.NumComputed, count);
        plan.Add(chunk);
        int promptEnd = seq.PromptTokenIds.Count;
        int end = Math.Min(promptEnd, seq.NumComputed + count);
        if (end > seq.ChargedPromptTokens)
        {
            _waiting.OnServed(seq, end - seq.ChargedPromptTokens, 0);
            seq.ChargedPromptTokens = end;
        }
    }

    private void Preempt(Sequence victim, StepPlan plan)
    {
        RemoveRunning(victim);
        victim.Preemptions++;
        Preemptions++;
        if (victim.NumComputed > 0 && victim.NumComputed < victim.Length - 1)
            PrefillPreemptions++;
        plan.Preempted.Add(victim);
        if (_config.Preemption == PreemptionMode.Swap && victim.BlockTable.Count > 0 && Kv.CanSwapOut(victim))
        {
            Kv.SwapOut(victim, plan);
            victim.Status = SequenceStatus.Swapped;
            _swapped.Insert(0, victim);
            SwapOuts++;
            return;
        }

        Kv.Free(victim);
        victim.NumComputed = 0;
        victim.Status = SequenceStatus.Waiting;
        _waiting.Requeue(victim);
    }

    private bool CanRunAdapter(Sequence seq) => _adapters?.CanRun(seq.Request) ?? true;

    private void InsertRunning(Sequence seq)
    {
        _adapters?.Pin(seq.Request);
        seq.Status = SequenceStatus.Running;
        _runningWidth += 1 + seq.PendingForks.Count;
        int i = _running.Count;
        while (i > 0 && _waiting.CompareRunning(_running[i - 1], seq) > 0)
            i--;
        _running.Insert(i, seq);
    }

    private void RemoveRunning(Sequence seq)
    {
        _running.Remove(seq);
        _adapters?.Unpin(seq.Request);
        _runningWidth -= 1 + seq.PendingForks.Count;
    }

    /// <summary>
    /// Applies an executed step: every chunk's tokens are now computed (full blocks enter the prefix
    /// cache), a first prompt sample forks the request's other sequences, and each sampled token is
    /// appended to its sequence (<paramref name="sampled"/> as filled by the model executor).
    /// </summary>
    public void CompleteStep(StepPlan plan, List<(Sequence Seq, int Token)> sampled)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(sampled);
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            int old = seq.NumComputed;
            seq.NumComputed = chunk.Start + chunk.Count;
            Kv.OnComputed(seq, old);
            Kv.ReleaseOutOfWindow(seq);
            if (chunk.Samples && seq.PendingForks.Count > 0)
            {
                _runningWidth -= seq.PendingForks.Count;
                foreach (var child in seq.PendingForks)
                {
                    Kv.Fork(seq, child);
                    child.ChargedPromptTokens = seq.ChargedPromptTokens;
                    InsertRunning(child);
                }

                seq.PendingForks.Clear();
            }
        }

        foreach (var load in plan.Loads)
        {
            var seq = load.Sequence;
            seq.NumComputed = load.Source.NumTokens;
            Kv.OnComputed(seq, 0);
            seq.ChargedPromptTokens = seq.NumComputed;
            _connector!.LoadCompleted(seq);
        }

        foreach (var (seq, token) in sampled)
        {
            if (token < 0)
                continue; // a failed sample row: the engine finishes the sequence with an error
            seq.Append(token);
            _waiting.OnServed(seq, 0, 1);
        }
    }
}
