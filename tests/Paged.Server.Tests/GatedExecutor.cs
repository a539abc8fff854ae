using Paged.Engine;

namespace Paged.Server.Tests;

/// <summary>
/// The real model executor behind a gate: each step waits for a permit (so a test decides when steps run),
/// and a step can be made to fail (to test errors after streaming began). Open by default.
/// </summary>
internal sealed class GatedExecutor(IModelExecutor inner) : IModelExecutor
{
    private readonly SemaphoreSlim _permits = new(0);
    private volatile bool _open = true;
    private volatile bool _failNext;
    private volatile bool _disposed;
    private TaskCompletionSource _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Steps wait for <see cref="Release"/> from now on.</summary>
    public void Close() => _open = false;

    public void Open()
    {
        _open = true;
        Release(1_000);
    }

    public void Release(int steps)
    {
        if (!_disposed)
            _permits.Release(steps);
    }

    /// <summary>Completes when a step is waiting at the closed gate.</summary>
    public Task Blocked => _blocked.Task;

    public void FailNextStep() => _failNext = true;

    public void ReplaceWeights(Paged.Models.ModelWeights weights) => inner.ReplaceWeights(weights);

    public void Execute(StepPlan plan, List<(Sequence Seq, int Token)> sampled)
    {
        if (!_open && !_permits.Wait(0))
        {
            _blocked.TrySetResult();
            _permits.Wait(TimeSpan.FromSeconds(60));
            _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        if (_failNext)
        {
            _failNext = false;
            throw new InvalidOperationException("injected executor fault");
        }

        inner.Execute(plan, sampled);
    }

    public Paged.Engine.Lora.LoraResidency? Adapters => inner.Adapters;

    public void Dispose()
    {
        _disposed = true;
        inner.Dispose();
        _permits.Dispose();
    }
}
