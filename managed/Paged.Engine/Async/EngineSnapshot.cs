namespace Paged.Engine;

/// <summary>
/// The async engine's state at one moment, safe to read on any thread (an immutable copy made on the engine's
/// thread): scheduler and KV-cache metrics, a copy of the counters, and the front end's queues.
/// </summary>
/// <param name="Step">Running, waiting and swapped sequences, KV blocks used and total, tokens of the last step.</param>
/// <param name="Counters">A copy of the running totals.</param>
/// <param name="PendingRequests">Requests accepted but not yet scheduled (the admission queue).</param>
/// <param name="LiveRequests">Requests accepted and not yet finished.</param>
public sealed record EngineSnapshot(StepMetrics Step, EngineCounters Counters, int PendingRequests, int LiveRequests);

/// <summary>Raised on the engine's thread after every step: keep handlers short.</summary>
public sealed class EngineStepEventArgs(EngineSnapshot snapshot) : EventArgs
{
    public EngineSnapshot Snapshot { get; } = snapshot;
}
