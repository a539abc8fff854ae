namespace Paged.Engine;

/// <summary>The loop thread of <see cref="AsyncEngine"/>: commands first, then a step whenever there is work.</summary>
public sealed partial class AsyncEngine
{
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
            case Invoke { Run: var run }:
                run();
                break;
            case DetailQuery { Done: var done }:
                done.TrySetResult(MakeDetail());
                break;
            case EndAdapterRequests end:
                Handle(end);
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
            case Invoke { Fail: var fail }:
                fail(new ObjectDisposedException(nameof(AsyncEngine), "the engine shut down before the call ran"));
                break;
            case DetailQuery { Done: var done }:
                done.TrySetResult(MakeDetail());
                break;
            case EndAdapterRequests { Done: var ended }:
                ended.TrySetResult(0);
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

    private EngineDetail MakeDetail()
    {
        var scheduler = _engine.Scheduler;
        return new(MakeSnapshot(), Kv.KvBlockMap.Capture(scheduler.Kv), Scheduling.TenantLoad.Capture(scheduler), scheduler.Config.Policy);
    }
}
