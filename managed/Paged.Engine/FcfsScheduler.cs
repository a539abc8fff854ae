namespace Paged.Engine;

/// <summary>
/// First-come-first-served continuous batching (v0). Each step first gives every running sequence
/// its next tokens (one for a decode, a chunk for an unfinished prefill), then admits waiting
/// sequences while the token budget, the sequence cap and free KV blocks allow. When blocks run out
/// the most recently admitted running sequence is preempted by recompute: its blocks are freed and it
/// goes back to the front of the queue, to be prefilled again (prompt and generated tokens) later.
/// </summary>
public sealed class FcfsScheduler
{
    private readonly BlockAllocator _blocks;
    private readonly int _blockSize;
    private readonly int _maxSeqs;
    private readonly int _maxTokens;
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];
    private readonly StepPlan _plan = new();

    public FcfsScheduler(BlockAllocator blocks, int blockSize, int maxNumSeqs, int maxNumBatchedTokens)
    {
        _blocks = blocks;
        _blockSize = blockSize;
        _maxSeqs = maxNumSeqs;
        _maxTokens = maxNumBatchedTokens;
    }

    public int NumWaiting => _waiting.Count;

    public int NumRunning => _running.Count;

    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    public IReadOnlyList<Sequence> Running => _running;

    public void Add(Sequence seq) => _waiting.AddLast(seq);

    /// <summary>Removes a finished or aborted sequence and frees its blocks.</summary>
    public void Remove(Sequence seq)
    {
        if (!_running.Remove(seq))
            _waiting.Remove(seq);
        _blocks.FreeAll(seq.BlockTable);
    }

    /// <summary>Decides the next step. The returned plan is reused by the next call.</summary>
    public StepPlan Schedule()
    {
        _plan.Clear();
        int budget = _maxTokens;

        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            int count = Math.Min(seq.Length - seq.NumComputed, budget);
            while (!TryReserve(seq, count))
            {
                // Preempt from the back (latest admitted); if that is this sequence, it waits too.
                var victim = _running[^1];
                Preempt(victim);
                if (victim == seq)
                    goto doneRunning;
            }

            _plan.Add(new ScheduledChunk(seq, seq.NumComputed, count));
            budget -= count;
        }

        doneRunning:
        while (budget > 0 && _running.Count < _maxSeqs && _waiting.First is { } node)
        {
            var seq = node.Value;
            int count = Math.Min(seq.Length - seq.NumComputed, budget);
            if (!TryReserve(seq, count))
                break;
            _waiting.RemoveFirst();
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            _plan.Add(new ScheduledChunk(seq, seq.NumComputed, count));
            budget -= count;
        }

        return _plan;
    }

    /// <summary>Makes sure the sequence has blocks for its first NumComputed + count tokens.</summary>
    private bool TryReserve(Sequence seq, int count)
    {
        int needed = ((seq.NumComputed + count + _blockSize - 1) / _blockSize) - seq.BlockTable.Count;
        if (needed <= 0)
            return true;
        if (needed > _blocks.NumFree)
            return false;
        for (int i = 0; i < needed; i++)
            seq.BlockTable.Add(_blocks.Allocate());
        return true;
    }

    private void Preempt(Sequence seq)
    {
        _running.Remove(seq);
        _blocks.FreeAll(seq.BlockTable);
        seq.ResetComputed();
        seq.Status = SequenceStatus.Waiting;
        seq.Preemptions++;
        _waiting.AddFirst(seq);
        _plan.Preempted.Add(seq);
    }
}
