using Paged.Models.Weights;

namespace Paged.Engine;

/// <summary>Weight updates and prefix-cache resets, run on the engine's thread between steps.</summary>
public sealed partial class AsyncEngine
{
    /// <summary>The engine's current weight version (<see cref="LlmEngine.WeightVersion"/>).</summary>
    public int WeightVersion => _engine.WeightVersion;

    /// <summary>Replaces the weights from a safetensors file between two steps; returns the new version (see <see cref="LlmEngine.UpdateWeights(string)"/>).</summary>
    public Task<int> UpdateWeightsAsync(string safetensorsPath, CancellationToken cancellationToken = default) =>
        OnLoop(e => e.UpdateWeights(safetensorsPath), cancellationToken);

    /// <summary>Replaces the weights with named tensors between two steps; returns the new version.</summary>
    public Task<int> UpdateWeightsAsync(IReadOnlyList<WeightTensor> tensors, CancellationToken cancellationToken = default) =>
        OnLoop(e => e.UpdateWeights(tensors), cancellationToken);

    /// <summary>Drops every prefix-cache entry between two steps.</summary>
    public Task ResetPrefixCacheAsync(CancellationToken cancellationToken = default) =>
        OnLoop(e =>
        {
            e.ResetPrefixCache();
            return 0;
        }, cancellationToken);

    private Task<int> OnLoop(Func<LlmEngine, int> action, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inbox.Writer.TryWrite(new Invoke(action, done)))
            throw new ObjectDisposedException(nameof(AsyncEngine), "the engine shut down");
        return done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs an action on the engine's thread and completes its task with the result or the exception.</summary>
    private sealed record Invoke(Func<LlmEngine, int> Action, TaskCompletionSource<int> Done) : Command
    {
        public void Run(LlmEngine engine)
        {
            try
            {
                Done.TrySetResult(Action(engine));
            }
            catch (Exception e) // reported to the caller; the loop keeps running with the old weights
            {
                Done.TrySetException(e);
            }
        }
    }
}
