using System.Diagnostics;
using Paged.Engine.Scheduling;

namespace Paged.Engine;

/// <summary>
/// The engine core (as vLLM v1's EngineCore): only schedule -> execute -> complete-step, plus the token-level
/// stop rules (end-of-sequence and stop token ids, max_tokens, the context limit) that decide which sequences
/// free their blocks. Text, stop strings and outputs belong to the output processor; tokenizing and
/// validation to the input processor. The model executor is pluggable, so tests drive this very loop with a
/// fake. One thread at a time (enforced); <see cref="AsyncEngine"/> shares it between threads.
/// </summary>
public sealed class EngineCore : IDisposable
{
    private readonly Scheduler _scheduler;
    private readonly IModelExecutor _executor;
    private readonly HashSet<int> _modelStopIds;
    private readonly CoreStepResult _result = new();
    private readonly SingleThreadGuard _guard = new(nameof(EngineCore));
    private bool _disposed;
    private (int Tokens, int PromptTokens, int Preempted) _lastPlan;

    /// <param name="scheduler">Queues, KV-cache manager and policy.</param>
    /// <param name="executor">Runs each plan (owned: disposed with the core).</param>
    /// <param name="modelStopIds">Token ids that end a sequence unless it ignores EOS.</param>
    /// <param name="maxContext">Longest sequence (prompt + generated) the engine holds.</param>
    public EngineCore(Scheduler scheduler, IModelExecutor executor, IReadOnlyList<int> modelStopIds, int maxContext)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(modelStopIds);
        _scheduler = scheduler;
        _executor = executor;
        _modelStopIds = [.. modelStopIds];
        MaxContext = maxContext;
    }

    public Scheduler Scheduler => _scheduler;

    public IModelExecutor Executor => _executor;

    public int MaxContext { get; }

    public bool HasWork => _scheduler.HasWork;

    public EngineCounters Counters { get; } = new();

    /// <summary>Scheduler and KV-cache state now (finishes and aborts since included), with the last step's token counts.</summary>
    public StepMetrics LastStep => Metrics();

    /// <summary>Queues a request built by the input processor.</summary>
    public void Add(Request request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(Add));
        _scheduler.Add(request);
    }

    /// <summary>Finishes one sequence wherever it is (its blocks are freed now), with <paramref name="reason"/> unless it already has one.</summary>
    public void Finish(Sequence seq, FinishReason reason)
    {
        ArgumentNullException.ThrowIfNull(seq);
        using var _ = _guard.Enter(nameof(Finish));
        if (seq.Status != SequenceStatus.Finished)
            _scheduler.Finish(seq);
        if (seq.FinishReason == FinishReason.None)
            seq.FinishReason = reason;
    }

    /// <summary>Finishes every unfinished sequence of a request (siblings awaiting their fork first), setting <paramref name="error"/> on each.</summary>
    public void Finish(Request request, FinishReason reason, string? error = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(Finish));
        for (int i = request.Sequences.Count - 1; i >= 0; i--)
        {
            var seq = request.Sequences[i];
            if (seq.Status == SequenceStatus.Finished && seq.FinishReason != FinishReason.None)
                continue;
            if (error is not null)
                seq.Error ??= error;
            Finish(seq, reason);
        }

    }

    /// <summary>Runs one step: schedule, execute, complete; then the token stop rules. A fault in the executor fails the step's requests and leaves the core usable.</summary>
    public CoreStepResult Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(Step));
        var result = _result;
        result.Clear();
        var plan = _scheduler.Schedule();
        result.Plan = plan;
        Counters.Preemptions += plan.Preempted.Count;
        Counters.SwapOuts += plan.SwapOut.Count > 0 ? plan.Preempted.Count(s => s.Status == SequenceStatus.Swapped) : 0;
        Counters.BlockCopies += plan.Copies.Count;
        if (plan.IsEmpty && plan.Loads.Count == 0)
        {
            // Nothing to compute, but a sequence preempted by swap must still have its blocks copied out.
            if (plan.HasWork)
                Execute(plan, result);
            RecordPlan(plan);
            return result;
        }

        long now = Stopwatch.GetTimestamp();
        foreach (var request in plan.Chunks.Select(c => c.Sequence.Request).Concat(plan.Loads.Select(l => l.Sequence.Request)))
        {
            if (request.ScheduledTicks is null)
            {
                request.ScheduledTicks = now;
                result.NewlyScheduled.Add(request);
            }
        }

        if (!Execute(plan, result))
        {
            RecordPlan(plan);
            return result;
        }

        Counters.ExecuteTicks += Stopwatch.GetTimestamp() - now;
        Counters.Steps++;
        Counters.TokensComputed += plan.NumTokens;
        Counters.PromptTokensComputed += plan.NumPromptTokens;
        foreach (var load in plan.Loads)
            result.Sampled.Add((load.Sequence, load.Source.FirstTokenId)); // the prefill side's sample stands for this step's
        _scheduler.CompleteStep(plan, result.Sampled);

        now = Stopwatch.GetTimestamp();
        foreach (var (seq, token) in result.Sampled)
        {
            var request = seq.Request;
            if (request.FirstTokenTicks is null)
            {
                request.FirstTokenTicks = now;
                Counters.PromptTokens += request.PromptTokenIds.Count;
            }

            if (token < 0)
                seq.FinishReason = FinishReason.Error; // the sample op reported this row as failed (seq.Error says why)
            else
            {
                Counters.TokensGenerated++;
                ApplyStopRules(seq, token);
            }

            if (seq.FinishReason != FinishReason.None)
                _scheduler.Finish(seq);
            result.Touch(request);
        }

        RecordPlan(plan);
        return result;
    }

    /// <summary>Runs the plan; when the executor throws, fails every request the step touched (a swapped-out victim's host copy is suspect too).</summary>
    private bool Execute(StepPlan plan, CoreStepResult result)
    {
        try
        {
            _executor.Execute(plan, result.Sampled);
            return true;
        }
#pragma warning disable CA1031 // any executor failure becomes an error on the step's requests; the core keeps serving
        catch (Exception e)
#pragma warning restore CA1031
        {
            result.Sampled.Clear();
            string message = $"the engine step failed: {e.GetType().Name}: {e.Message}";
            result.Fault = message;
            Counters.StepFaults++;
            var failed = new List<Request>();
            foreach (var chunk in plan.Chunks)
                failed.Add(chunk.Sequence.Request);
            foreach (var load in plan.Loads)
                failed.Add(load.Sequence.Request);
            foreach (var victim in plan.Preempted)
            {
                if (victim.Status == SequenceStatus.Swapped)
                    failed.Add(victim.Request);
            }

            foreach (var request in failed.Distinct())
            {
                Finish(request, FinishReason.Error, message);
                result.Touch(request);
            }

            return false;
        }
    }

    private void ApplyStopRules(Sequence seq, int token)
    {
        var p = seq.Sampling;
        if (!p.IgnoreEos && _modelStopIds.Contains(token))
        {
            seq.FinishReason = FinishReason.Stop;
            return;
        }

        if (p.StopTokenIds.Contains(token))
        {
            seq.FinishReason = FinishReason.Stop;
            seq.StopTokenId = token;
            return;
        }

        if (seq.NumGenerated >= p.MaxTokens || seq.Length >= MaxContext || seq.Request.HoldKv)
            seq.FinishReason = FinishReason.Length;
    }

    private void RecordPlan(StepPlan plan)
    {
        _lastPlan = (plan.NumTokens, plan.NumPromptTokens, plan.Preempted.Count);
        var cache = _scheduler.Kv.PrefixCache;
        Counters.PrefixQueries = cache?.Queries ?? 0;
        Counters.PrefixHits = cache?.Hits ?? 0;
    }

    private StepMetrics Metrics()
    {
        var plan = _lastPlan;
        var pool = _scheduler.Kv.Pool;
        return new StepMetrics(
            Counters.Steps, _scheduler.NumRunning, _scheduler.NumWaiting, _scheduler.NumSwapped, plan.Tokens, plan.PromptTokens,
            plan.Preempted, pool.NumUsed, pool.NumBlocks, pool.FilledSlotsInUse, (long)pool.NumUsed * pool.BlockSize, Counters.PrefixHitRate);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _executor.Dispose();
    }
}
