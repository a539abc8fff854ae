namespace Paged.Engine.Scheduling;

/// <summary>The scheduler's limits and modes (derived from <see cref="EngineOptions"/>).</summary>
public sealed record SchedulerConfig
{
    public required int NumBlocks { get; init; }

    public int BlockSize { get; init; } = 16;

    public int MaxNumSeqs { get; init; } = 64;

    public int MaxNumBatchedTokens { get; init; } = 2048;

    public bool PrefixCaching { get; init; } = true;

    public bool ChunkedPrefill { get; init; } = true;

    public PreemptionMode Preemption { get; init; } = PreemptionMode.Recompute;

    /// <summary>Host slots for swapped-out blocks.</summary>
    public int SwapBlocks { get; init; }

    public SchedulingPolicy Policy { get; init; } = SchedulingPolicy.Fcfs;

    public FairShareOptions FairShare { get; init; } = new();

    /// <summary>The model's sliding window (0: none): blocks that leave it are released as sequences advance.</summary>
    public int SlidingWindow { get; init; }
}
