using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Engine;

/// <summary>
/// The engine shared by many callers: one background thread owns an <see cref="LlmEngine"/> and runs its steps
/// whenever there is work; requests come in through a channel and each gets its own output channel, read as
/// an <see cref="IAsyncEnumerable{T}"/>. Cancelling (or leaving the enumeration) aborts the request and frees
/// its KV blocks before the next step. A fault in a step fails that step's requests and the loop keeps serving.
/// Every member is thread-safe.
/// </summary>
public sealed class AsyncEngine : IAsyncDisposable, IDisposable
{
    private readonly LlmEngine _engine;
    private readonly AsyncEngineOptions _options;
    private readonly Channel<Command> _inbox = Channel.CreateUnbounded<Command>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<long, RequestStream> _streams = []; // loop thread only
    private readonly ConcurrentDictionary<string, RequestStream> _externalIds = new(StringComparer.Ordinal);
    private readonly Thread _loop;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile EngineSnapshot _snapshot;
    private volatile bool _accepting = true;
    private int _pending;
    private int _live;
    private int _disposed;
    private StopMode _stop; // loop thread only

    /// <summary>Takes ownership of <paramref name="engine"/> (disposed at shutdown) and starts the loop thread.</summary>
    public AsyncEngine(LlmEngine engine, AsyncEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        options ??= new AsyncEngineOptions();
        options.Validate();
        _engine = engine;
        _options = options;
        _snapshot = new EngineSnapshot(engine.LastStep, engine.Counters.Clone(), 0, 0);
        _loop = new Thread(Run) { IsBackground = true, Name = "paged-engine-loop" };
        _loop.Start();
    }

    /// <summary>Loads the model and tokenizer from files and starts an engine on them.</summary>
    public static AsyncEngine Create(string modelPath, string? tokenizerPath, EngineOptions engineOptions, AsyncEngineOptions? options = null)
    {
        (options ?? new AsyncEngineOptions()).Validate();
        return new AsyncEngine(LlmEngine.Create(modelPath, tokenizerPath, engineOptions), options);
    }

    /// <summary>Raised on the engine's thread after every step (keep handlers short; exceptions from them are ignored).</summary>
    public event EventHandler<EngineStepEventArgs>? StepCompleted;

    public ITokenizer Tokenizer => _engine.Tokenizer;

    public ModelConfig Config => _engine.Config;

    public EngineOptions Options => _engine.Options;

    public string DeviceName => _engine.DeviceName;

    public int NumKvBlocks => _engine.NumKvBlocks;

    /// <summary>Longest sequence (prompt + generated) the engine holds.</summary>
    public int MaxContext => _engine.MaxContext;

    /// <summary>The loop thread is running (what /health reports).</summary>
    public bool IsAlive => _loop.IsAlive && !_stopped.Task.IsCompleted;

    /// <summary>The state after the latest step or command (for /metrics; never blocks).</summary>
    public EngineSnapshot Snapshot => _snapshot;

    /// <summary>A snapshot taken on the engine's thread after every command sent before this call was handled (an abort's blocks are then free).</summary>
    public Task<EngineSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<EngineSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _inbox.Writer.TryWrite(new Barrier(done)) ? done.Task.WaitAsync(cancellationToken) : Task.FromResult(_snapshot);
    }

    /// <summary>
    /// Queues a request and streams its outputs (one per step it took part in; the last has Finished set).
    /// Throws at once: <see cref="ArgumentException"/> for invalid input, <see cref="EngineOverloadedException"/>
    /// when the admission queue is full, <see cref="ObjectDisposedException"/> or <see cref="InvalidOperationException"/>
    /// after or during shutdown. Cancelling <paramref name="cancellationToken"/> or leaving the enumeration aborts it.
    /// </summary>
    public IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_accepting)
            throw new InvalidOperationException("the engine is shutting down and accepts no new requests");
        cancellationToken.ThrowIfCancellationRequested();
        var stream = new RequestStream(_engine.Inputs.Prepare(request));
        string? externalId = stream.Prepared.ExternalId;
        if (externalId is not null && !_externalIds.TryAdd(externalId, stream))
            throw new ArgumentException($"request id '{externalId}' is already used by a live request");
        if (Interlocked.Increment(ref _pending) > _options.MaxPendingRequests)
        {
            Interlocked.Decrement(ref _pending);
            ReleaseExternalId(stream);
            throw new EngineOverloadedException(
                $"the engine's admission queue is full ({_options.MaxPendingRequests} requests waiting to start); retry later")
            { MaxPendingRequests = _options.MaxPendingRequests };
        }

        Interlocked.Increment(ref _live);
        if (!_inbox.Writer.TryWrite(new Submit(stream)))
        {
            Interlocked.Decrement(ref _pending);
            Interlocked.Decrement(ref _live);
            ReleaseExternalId(stream);
            throw new ObjectDisposedException(nameof(AsyncEngine), "the engine has shut down");
        }

        if (cancellationToken.CanBeCanceled)
            stream.Registration = cancellationToken.Register(() => _inbox.Writer.TryWrite(new Cancel(stream)));
        return Read(stream, cancellationToken);
    }

    private async IAsyncEnumerable<RequestOutput> Read(RequestStream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            var reader = stream.Output.Reader;
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var output))
                    yield return output;
            }
        }
        finally
        {
            await stream.Registration.DisposeAsync().ConfigureAwait(false);
            if (!stream.IsCompleted)
                _inbox.Writer.TryWrite(new Cancel(stream)); // the consumer left early: free the request's blocks
        }
    }

    /// <summary>Stops accepting requests; with <paramref name="drain"/> lets the running ones finish, else aborts them (each gets a final Abort output). Then releases the engine.</summary>
    public async Task ShutdownAsync(bool drain = true, CancellationToken cancellationToken = default)
    {
        _accepting = false;
        _inbox.Writer.TryWrite(new Shutdown(drain));
        await _stopped.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            _engine.Dispose();
    }

    /// <summary>Aborts whatever runs and releases the engine.</summary>
    public ValueTask DisposeAsync() => new(ShutdownAsync(drain: false));

    public void Dispose() => ShutdownAsync(drain: false).GetAwaiter().GetResult();

    private void Run()
    {
        try
        {
            while (true)
            {
                bool handled = false;
                while (_inbox.Reader.TryRead(out var command))
                {
                    Handle(command);
                    handled = true;
                }

                if (_stop == StopMode.Abort)
                {
                    TerminateAll(FinishReason.Abort, "the engine shut down");
                    break;
                }

                if (!_engine.HasUnfinishedRequests)
                {
                    if (handled)
                        Publish();
                    if (_stop == StopMode.Drain || !_inbox.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                        break;
                    continue;
                }

                StepOnce();
            }
        }
#pragma warning disable CA1031 // the loop must end cleanly whatever failed: every waiting caller is told
        catch (Exception e)
        {
            TerminateAll(FinishReason.Error, $"the engine loop failed: {e.GetType().Name}: {e.Message}");
        }
#pragma warning restore CA1031
        finally
        {
            _accepting = false;
            _inbox.Writer.TryComplete();
            while (_inbox.Reader.TryRead(out var command))
                Reject(command);
            Publish();
            _stopped.TrySetResult();
        }
    }

    private void Handle(Command command)
    {
        switch (command)
        {
            case Submit { Stream: var s }:
                if (_stop != StopMode.None)
                {
                    Reject(command);
                    break;
                }

                try
                {
                    s.Id = _engine.Submit(s.Prepared);
                    _streams.Add(s.Id, s);
                }
                catch (ArgumentException e)
                {
                    Complete(s, e);
                }

                break;
            case Cancel { Stream: var s }:
                if (!s.IsCompleted && s.Id >= 0)
                {
                    _engine.Abort(s.Id);
                    Complete(s, null);
                }

                break;
            case Barrier { Done: var done }:
                done.TrySetResult(MakeSnapshot());
                break;
            case Shutdown { Drain: var drain }:
                _stop = (StopMode)Math.Max((int)_stop, (int)(drain ? StopMode.Drain : StopMode.Abort));
                break;
            default:
                break;
        }
    }

    private void StepOnce()
    {
        IReadOnlyList<RequestOutput> outputs;
        try
        {
            outputs = _engine.Step();
        }
#pragma warning disable CA1031 // faults of the executor are handled inside the step; anything else fails the live requests, and the loop goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            TerminateAll(FinishReason.Error, $"the engine step failed: {e.GetType().Name}: {e.Message}");
            Publish();
            return;
        }

        if (_engine.LastStepResult is { } step)
        {
            foreach (var request in step.NewlyScheduled)
            {
                if (_streams.TryGetValue(request.Id, out var s))
                    MarkStarted(s);
            }
        }

        foreach (var output in outputs)
        {
            if (!_streams.TryGetValue(output.RequestId, out var s))
                continue;
            s.Output.Writer.TryWrite(output);
            if (output.Finished)
                Complete(s, null);
        }

        var snapshot = Publish();
        try
        {
            StepCompleted?.Invoke(this, new EngineStepEventArgs(snapshot));
        }
#pragma warning disable CA1031 // an observer's bug must not stop the engine
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Ends every live request with a final output (or, when even that fails, an exception on its stream).</summary>
    private void TerminateAll(FinishReason reason, string message)
    {
        foreach (var s in _streams.Values.ToList())
        {
            try
            {
                if (_engine.Terminate(s.Id, reason, reason == FinishReason.Error ? message : null) is { } final)
                    s.Output.Writer.TryWrite(final);
                Complete(s, null);
            }
#pragma warning disable CA1031 // the engine's state is suspect: tell the caller rather than lose the request
            catch (Exception e)
#pragma warning restore CA1031
            {
                Complete(s, new InvalidOperationException(message, e));
            }
        }
    }

    private void Reject(Command command)
    {
        switch (command)
        {
            case Submit { Stream: var s }:
                Complete(s, new ObjectDisposedException(nameof(AsyncEngine), "the engine shut down before the request started"));
                break;
            case Barrier { Done: var done }:
                done.TrySetResult(MakeSnapshot());
                break;
            default:
                break;
        }
    }

    private void MarkStarted(RequestStream s)
    {
        if (s.Started)
            return;
        s.Started = true;
        Interlocked.Decrement(ref _pending);
    }

    private void Complete(RequestStream s, Exception? error)
    {
        if (s.IsCompleted)
            return;
        MarkStarted(s);
        s.IsCompleted = true;
        _streams.Remove(s.Id);
        Interlocked.Decrement(ref _live);
        ReleaseExternalId(s);
        s.Output.Writer.TryComplete(error);
    }

    private void ReleaseExternalId(RequestStream s)
    {
        if (s.Prepared.ExternalId is { } id)
            _externalIds.TryRemove(new KeyValuePair<string, RequestStream>(id, s));
    }

    private EngineSnapshot MakeSnapshot() =>
        new(_engine.LastStep, _engine.Counters.Clone(), Volatile.Read(ref _pending), Volatile.Read(ref _live));

    private EngineSnapshot Publish() => _snapshot = MakeSnapshot();

    private enum StopMode
    {
        None,
        Drain,
        Abort,
    }

    private abstract record Command;

    private sealed record Submit(RequestStream Stream) : Command;

    private sealed record Cancel(RequestStream Stream) : Command;

    private sealed record Barrier(TaskCompletionSource<EngineSnapshot> Done) : Command;

    private sealed record Shutdown(bool Drain) : Command;
}
