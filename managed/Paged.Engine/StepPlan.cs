namespace Paged.Engine;

/// <summary>One sequence's share of a step: compute tokens [Start, Start + Count) of it.</summary>
public readonly record struct ScheduledChunk(Sequence Sequence, int Start, int Count)
{
    /// <summary>True when the chunk reaches the sequence's last token, so a new token is sampled.</summary>
    public bool Samples => Start + Count == Sequence.Length;
}

/// <summary>What the scheduler decided for one step.</summary>
public sealed class StepPlan
{
    public List<ScheduledChunk> Chunks { get; } = [];

    /// <summary>Sequences preempted (by recompute) to make room in this step.</summary>
    public List<Sequence> Preempted { get; } = [];

    public int NumTokens { get; private set; }

    public bool IsEmpty => Chunks.Count == 0;

    internal void Add(ScheduledChunk chunk)
    {
        Chunks.Add(chunk);
        NumTokens += chunk.Count;
    }

    internal void Clear()
    {
        Chunks.Clear();
        Preempted.Clear();
        NumTokens = 0;
    }
}
