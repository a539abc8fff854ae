using Paged.Engine.Lora;
using Paged.Models.Lora;

namespace Paged.Engine;

/// <summary>LoRA adapters of the shared engine: the registry, and ending the requests of an unloaded adapter.</summary>
public sealed partial class AsyncEngine
{
    /// <summary>The adapters the engine serves (thread-safe: load, unload and look up from any thread).</summary>
    public LoraRegistry Adapters => _engine.Adapters;

    /// <summary>
    /// Unloads <paramref name="name"/>: new requests for it fail at once; live ones may finish within
    /// <paramref name="timeout"/>, after which they are ended (finish reason error, the error naming the adapter).
    /// Returns the number of requests ended that way, or -1 when no adapter has that name.
    /// </summary>
    public Task<int> UnloadAdapterAsync(string name, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return Adapters.Remove(name) is { } adapter ? UnloadAsync(adapter, timeout, cancellationToken) : Task.FromResult(-1);
    }

    private async Task<int> UnloadAsync(LoraAdapter adapter, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Requests already past validation reach the engine thread in order: after this barrier every one of them
        // is counted as live (or has failed), so the drain below sees them all.
        await GetSnapshotAsync(cancellationToken).ConfigureAwait(false);
        var drained = Adapters.WhenDrained(adapter);
        if (await Task.WhenAny(drained, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false) == drained)
            return 0;
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_inbox.Writer.TryWrite(new EndAdapterRequests(adapter, done)))
            return 0; // the engine has stopped: nothing is live any more
        return await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record EndAdapterRequests(LoraAdapter Adapter, TaskCompletionSource<int> Done) : Command;

    /// <summary>Engine thread: ends every live request of the adapter with a final output.</summary>
    private void Handle(EndAdapterRequests command)
    {
        int ended = 0;
        foreach (var s in _streams.Values.Where(s => ReferenceEquals(s.Prepared.Adapter, command.Adapter)).ToList())
        {
            if (_engine.Terminate(s.Id, FinishReason.Error, $"the LoRA adapter '{command.Adapter.Name}' was unloaded") is { } final)
                s.Output.Writer.TryWrite(final);
            Complete(s, null);
            ended++;
        }

        command.Done.TrySetResult(ended);
    }
}
