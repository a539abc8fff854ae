namespace Paged.Engine;

/// <summary>One sequence's share of a step: compute tokens [Start, Start + Count) of it.</summary>
public readonly record struct ScheduledChunk(Sequence Sequence, int Start, int Count)
{
    /// <summary>True when the chunk reaches the sequence's last token, so a new token is sampled.</summary>
    public bool Samples => Start + Count == Sequence.Length;
}

/// <summary>A block copy: whole block <paramref name="Src"/> to <paramref name="Dst"/> (device blocks, or host slot and device block for swaps).</summary>
public readonly record struct BlockMove(int Src, int Dst);

/// <summary>
/// What the scheduler decided for one step, executed in this order: swap-outs (device block -> host
/// slot), swap-ins (host slot -> device block), copy-on-write copies (device -> device, one batched
/// call), then one forward pass over the chunks. Positions, block tables and slot mappings follow from
/// each chunk's sequence (<see cref="Sequence.BlockTable"/>) and range. Reused from step to step.
/// </summary>
public sealed class StepPlan
{
    public List<ScheduledChunk> Chunks { get; } = [];

    /// <summary>Copy-on-write pairs (src device block, dst device block).</summary>
    public List<BlockMove> Copies { get; } = [];

    /// <summary>Device block -> host slot, for sequences preempted by swap in this step.</summary>
    public List<BlockMove> SwapOut { get; } = [];

    /// <summary>Host slot -> device block, for sequences resumed in this step.</summary>
    public List<BlockMove> SwapIn { get; } = [];

    /// <summary>Prompts whose KV comes from elsewhere (a KV connector), written into their blocks before the forward pass.</summary>
    public List<Paged.Engine.KvTransfer.KvLoad> Loads { get; } = [];

    /// <summary>Sequences preempted (by recompute or swap) to make room in this step.</summary>
    public List<Sequence> Preempted { get; } = [];

    public int NumTokens { get; private set; }

    /// <summary>Tokens of this step at prompt positions (prefill work, recomputation included).</summary>
    public int NumPromptTokens { get; private set; }

    public bool IsEmpty => Chunks.Count == 0;

    /// <summary>Something for the executor to do: chunks, or block moves alone (a step that only swapped a sequence out).</summary>
    public bool HasWork => Chunks.Count > 0 || Copies.Count > 0 || SwapOut.Count > 0 || SwapIn.Count > 0 || Loads.Count > 0;

    internal void Add(ScheduledChunk chunk)
    {
        Chunks.Add(chunk);
        NumTokens += chunk.Count;
        int promptEnd = chunk.Sequence.PromptTokenIds.Count;
        if (chunk.Start < promptEnd)
            NumPromptTokens += Math.Min(promptEnd, chunk.Start + chunk.Count) - chunk.Start;
    }

    internal void Clear()
    {
        Chunks.Clear();
        Copies.Clear();
        SwapOut.Clear();
        SwapIn.Clear();
        Loads.Clear();
        Preempted.Clear();
        NumTokens = 0;
        NumPromptTokens = 0;
    }
}
