namespace Paged.Engine.Tests;

/// <summary>
/// Holds the engine's thread inside a chosen step (from <see cref="FakeExecutor.BeforeExecute"/>) until the test
/// opens it: <see cref="Entered"/> completes when the loop arrives. Synchronization by signals, not sleeps; the
/// wait gives up after a minute so a failed test cannot hang the engine's thread forever.
/// </summary>
internal sealed class StepGate(int blockAtStep = 1) : IDisposable
{
    private readonly ManualResetEventSlim _open = new();
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _steps;

    public Task Entered => _entered.Task;

    public void BeforeExecute(StepPlan plan)
    {
        if (Interlocked.Increment(ref _steps) != blockAtStep)
            return;
        _entered.TrySetResult();
        if (!_open.Wait(TimeSpan.FromMinutes(1)))
            throw new TimeoutException("the test never opened the step gate");
    }

    public void Open() => _open.Set();

    public void Dispose() => _open.Dispose();
}
