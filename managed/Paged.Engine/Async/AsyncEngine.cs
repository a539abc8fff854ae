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
public sealed partial class AsyncEngine : IAsyncDisposable, IDisposable
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

    /// <summary>The engine's KV connector (its lease lookups are thread-safe; change it through <see cref="InvokeAsync{T}"/>).</summary>
    public KvTransfer.KvTransferConnector KvConnector => _engine.KvConnector;

    /// <summary>Longest sequence (prompt + generated) the engine holds.</summary>
    public int MaxContext => _engine.MaxContext;

    /// <summary>The loop thread is running (what /health reports).</summary>
    public bool IsAlive => _loop.IsAlive && !_stopped.Task.IsCompleted;

    /// <summary>The state after the latest step or command (for /metrics; never blocks).</summary>
    public EngineSnapshot Snapshot => _snapshot;

    /// <summary>A snapshot taken on the engine's thread after every command sent before this call was handled (an abort's blocks are then free).</summary>
    public Task<EngineSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var done = new TaskCompletionSource<EngineSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _inbox.Writer.TryWrite(new Barrier(done)) ? done.Task.WaitAsync(cancellationToken) : Task.FromResult(_snapshot);
    }

    /// <summary>
    /// Runs <paramref name="action"/> on the engine's thread between steps (where the scheduler, the KV cache and
    /// the KV connector may be touched) and returns its result; its exception is the task's.
    /// </summary>
    public Task<T> InvokeAsync<T>(Func<LlmEngine, T> action, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentNullException.ThrowIfNull(action);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Run()
        {
            try
            {
                done.TrySetResult(action(_engine));
            }
#pragma warning disable CA1031 // the caller gets the failure; the engine goes on
            catch (Exception e)
#pragma warning restore CA1031
            {
                done.TrySetException(e);
            }
        }

        var command = new Invoke(Run, e => done.TrySetException(e));
        return _inbox.Writer.TryWrite(command)
            ? done.Task.WaitAsync(cancellationToken)
            : Task.FromException<T>(new ObjectDisposedException(nameof(AsyncEngine), "the engine has stopped"));
    }

    /// <summary>
    /// A snapshot with every KV block's state and the work per tenant, taken on the engine's thread after every
    /// command sent before this call (one pass over the block pool: meant for a dashboard's polling, not every step).
    /// Throws <see cref="ObjectDisposedException"/> once the engine has shut down.
    /// </summary>
    public Task<EngineDetail> GetDetailAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var done = new TaskCompletionSource<EngineDetail>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _inbox.Writer.TryWrite(new DetailQuery(done))
            ? done.Task.WaitAsync(cancellationToken)
            : Task.FromException<EngineDetail>(new ObjectDisposedException(nameof(AsyncEngine), "the engine has shut down"));
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
            while (true)
            {
                // Checked before every read: a cancelled request's channel may still hold outputs, or be complete.
                cancellationToken.ThrowIfCancellationRequested();
                if (!reader.TryRead(out var output))
                {
                    if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                        break;
                    continue;
                }

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

    /// <summary>Work to run on the engine's thread between steps; <paramref name="Fail"/> when the engine stops first.</summary>
    private sealed record Invoke(Action Run, Action<Exception> Fail) : Command;

    private sealed record DetailQuery(TaskCompletionSource<EngineDetail> Done) : Command;
}
