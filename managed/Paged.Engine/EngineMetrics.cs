using System.Diagnostics;

namespace Paged.Engine;

/// <summary>Running totals since the engine started. <see cref="AsyncEngine"/> hands out copies (<see cref="Clone"/>), safe to read on any thread.</summary>
public sealed class EngineCounters
{
    private long[] _finished = new long[Enum.GetValues<FinishReason>().Length];

    public long Steps { get; internal set; }

    public long TokensComputed { get; internal set; }

    /// <summary>Tokens computed at prompt positions (prefill work, recomputation after preemption included).</summary>
    public long PromptTokensComputed { get; internal set; }

    public long TokensGenerated { get; internal set; }

    public long Preemptions { get; internal set; }

    /// <summary>Preemptions that swapped the victim's blocks to host memory.</summary>
    public long SwapOuts { get; internal set; }

    /// <summary>Block copies made for copy-on-write.</summary>
    public long BlockCopies { get; internal set; }

    /// <summary>Full blocks looked up in the prefix cache, and the lookups it answered.</summary>
    public long PrefixQueries { get; internal set; }

    public long PrefixHits { get; internal set; }

    public double PrefixHitRate => PrefixQueries == 0 ? 0 : PrefixHits / (double)PrefixQueries;

    /// <summary>Stopwatch ticks spent in the model runner (forward pass and sampling).</summary>
    public long ExecuteTicks { get; internal set; }

    public double ExecuteSeconds => ExecuteTicks / (double)Stopwatch.Frequency;

    /// <summary>Prompt tokens of requests whose prefill completed (each request once, however often it was recomputed).</summary>
    public long PromptTokens { get; internal set; }

    /// <summary>Steps whose executor threw (their requests finished with an error).</summary>
    public long StepFaults { get; internal set; }

    /// <summary>Requests finished for <paramref name="reason"/> (the first completion's reason; aborts included).</summary>
    public long FinishedRequests(FinishReason reason) => _finished[(int)reason];

    internal void CountFinished(FinishReason reason) => _finished[(int)reason]++;

    /// <summary>A snapshot of every counter.</summary>
    public EngineCounters Clone()
    {
        var copy = (EngineCounters)MemberwiseClone();
        copy._finished = (long[])_finished.Clone();
        return copy;
    }
}

/// <summary>The state of the scheduler and the KV cache after one step.</summary>
public readonly record struct StepMetrics(
    long Step,
    int NumRunning,
    int NumWaiting,
    int NumSwapped,
    int ScheduledTokens,
    int PromptTokens,
    int Preempted,
    int KvBlocksUsed,
    int KvBlocksTotal,
    long KvSlotsFilled,
    long KvSlotsAllocated,
    double PrefixHitRate)
{
    /// <summary>Allocated KV slots holding no token, as a fraction of allocated slots.</summary>
    public double KvWaste => KvSlotsAllocated == 0 ? 0 : 1 - (KvSlotsFilled / (double)KvSlotsAllocated);

    public double KvUsage => KvBlocksTotal == 0 ? 0 : KvBlocksUsed / (double)KvBlocksTotal;
}
