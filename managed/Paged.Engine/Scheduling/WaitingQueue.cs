namespace Paged.Engine.Scheduling;

/// <summary>
/// The waiting sequences in the order a policy admits them. New arrivals are enqueued; sequences
/// preempted by recompute are requeued ahead of their peers. The scheduler also reports service
/// (tokens computed for a sequence) so a fair-share policy can charge its tenant.
/// </summary>
internal abstract class WaitingQueue
{
    public abstract int Count { get; }

    public abstract IEnumerable<Sequence> Items { get; }

    public abstract void Enqueue(Sequence seq);

    public abstract void Requeue(Sequence seq);

    /// <summary>The sequence to admit next, or null when empty.</summary>
    public abstract Sequence? Peek();

    /// <summary>Removes <paramref name="seq"/>, which <see cref="Peek"/> returned.</summary>
    public abstract void Dequeue(Sequence seq);

    public abstract bool Remove(Sequence seq);

    /// <summary>Reports tokens computed for a sequence: prompt tokens (first computation only) and sampled tokens.</summary>
    public virtual void OnServed(Sequence seq, int promptTokens, int outputTokens)
    {
    }

    /// <summary>Orders running sequences: where a newly admitted one goes, and the last one is the first victim.</summary>
    public virtual int CompareRunning(Sequence a, Sequence b) => 0;

    public static WaitingQueue Create(SchedulingPolicy policy, FairShareOptions fair) => policy switch
    {
        SchedulingPolicy.Fcfs => new FcfsQueue(),
        SchedulingPolicy.Priority => new PriorityQueue(),
        SchedulingPolicy.Fair => new VtcQueue(fair),
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };
}

/// <summary>First come, first served: arrival order; preempted sequences go back to the front.</summary>
internal sealed class FcfsQueue : WaitingQueue
{
    private readonly List<Sequence> _items = [];

    public override int Count => _items.Count;

    public override IEnumerable<Sequence> Items => _items;

    public override void Enqueue(Sequence seq) => _items.Add(seq);

    public override void Requeue(Sequence seq) => _items.Insert(0, seq);

    public override Sequence? Peek() => _items.Count > 0 ? _items[0] : null;

    public override void Dequeue(Sequence seq) => _items.RemoveAt(0);

    public override bool Remove(Sequence seq) => _items.Remove(seq);
}

/// <summary>Lower priority value first, then arrival order; running work is ordered the same way, so the victim is the least important.</summary>
internal sealed class PriorityQueue : WaitingQueue
{
    private readonly List<Sequence> _items = [];

    public override int Count => _items.Count;

    public override IEnumerable<Sequence> Items => _items;

    public static int Compare(Sequence a, Sequence b)
    {
        int c = a.Request.Priority.CompareTo(b.Request.Priority);
        if (c == 0)
            c = a.Request.Id.CompareTo(b.Request.Id);
        return c != 0 ? c : a.Index.CompareTo(b.Index);
    }

    public override void Enqueue(Sequence seq)
    {
        int i = _items.Count;
        while (i > 0 && Compare(_items[i - 1], seq) > 0)
            i--;
        _items.Insert(i, seq);
    }

    public override void Requeue(Sequence seq) => Enqueue(seq);

    public override Sequence? Peek() => _items.Count > 0 ? _items[0] : null;

    public override void Dequeue(Sequence seq) => _items.RemoveAt(0);

    public override bool Remove(Sequence seq) => _items.Remove(seq);

    public override int CompareRunning(Sequence a, Sequence b) => Compare(a, b);
}
