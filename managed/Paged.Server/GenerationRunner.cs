using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Paged.Engine;

namespace Paged.Server;

/// <summary>
/// Runs the engine requests of one HTTP request (one per prompt) and merges their outputs into one stream
/// tagged with the prompt's index. Submission errors surface before anything is streamed: invalid input is a
/// 400, a full admission queue a 429 with Retry-After, a stopped engine a 503. Leaving the stream, the client
/// disconnecting or the per-request timeout aborts every engine request (their KV blocks are freed).
/// </summary>
internal sealed class GenerationRunner(AsyncEngine engine, ServerOptions options, ServerMetrics metrics)
{
    public AsyncEngine Engine => engine;

    /// <summary>Submits every request now (so errors are thrown before a response starts) and returns the merged outputs.</summary>
    public IAsyncEnumerable<(int Index, RequestOutput Output)> Start(IReadOnlyList<GenerationRequest> requests, CancellationToken clientAborted)
    {
        var timeout = new CancellationTokenSource(options.RequestTimeout);
        var linked = CancellationTokenSource.CreateLinkedTokenSource(clientAborted, timeout.Token);
        var streams = new List<IAsyncEnumerable<RequestOutput>>(requests.Count);
        try
        {
            foreach (var request in requests)
                streams.Add(Submit(request, linked.Token));
        }
        catch
        {
            linked.Cancel();
            linked.Dispose();
            timeout.Dispose();
            throw;
        }

        return Merge(streams, requests, linked, timeout, clientAborted);
    }

    private IAsyncEnumerable<RequestOutput> Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return engine.GenerateAsync(request, cancellationToken);
        }
        catch (EngineOverloadedException e)
        {
            metrics.Rejected();
            throw new ApiException(429, e.Message, code: "overloaded") { RetryAfterSeconds = options.RetryAfterSeconds };
        }
        catch (ArgumentException e)
        {
            throw ApiException.BadRequest(e.Message);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            throw new ApiException(503, $"the engine is not accepting requests: {e.Message}", code: "engine_unavailable") { RetryAfterSeconds = options.RetryAfterSeconds };
        }
    }

    private async IAsyncEnumerable<(int Index, RequestOutput Output)> Merge(
        List<IAsyncEnumerable<RequestOutput>> streams, IReadOnlyList<GenerationRequest> requests, CancellationTokenSource linked, CancellationTokenSource timeout,
        CancellationToken clientAborted, [EnumeratorCancellation] CancellationToken enumeratorCancelled = default)
    {
        var channel = Channel.CreateUnbounded<(int, RequestOutput)>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = streams.Select((s, i) => Pump(s, i, requests[i].Attributes.Tenant, channel.Writer, linked.Token)).ToArray();
        _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.GetBaseException()), TaskScheduler.Default);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await channel.Reader.WaitToReadAsync(enumeratorCancelled).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !clientAborted.IsCancellationRequested)
                {
                    throw TimedOut();
                }

                if (!more)
                    break;
                while (channel.Reader.TryRead(out var item))
                    yield return item;
            }

            if (timeout.IsCancellationRequested && !clientAborted.IsCancellationRequested)
                throw TimedOut();
        }
        finally
        {
            linked.Cancel();
            try
            {
                await Task.WhenAll(pumps).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ApiException or InvalidOperationException or ObjectDisposedException)
            {
                // Already reported through the channel, or the request was abandoned.
            }

            linked.Dispose();
            timeout.Dispose();
        }
    }

    private ApiException TimedOut() =>
        new(408, $"the request did not finish within the server's timeout of {options.RequestTimeout.TotalSeconds:0} s and was cancelled", code: "timeout");

    private async Task Pump(IAsyncEnumerable<RequestOutput> stream, int index, string tenant, ChannelWriter<(int, RequestOutput)> writer, CancellationToken cancellationToken)
    {
        var tracker = new LatencyTracker();
        RequestOutput? last = null;
        try
        {
            await foreach (var output in stream.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                last = output;
                tracker.Observe(output, metrics);
                if (output.Finished)
                {
                    metrics.RequestFinished(output);
                    metrics.Recent.Add(RequestRecord.From(output, tenant, abandoned: false, DateTimeOffset.UtcNow));
                }

                await writer.WriteAsync((index, output), CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Cancelled: the merge loop reports a timeout, or the client is gone. The engine aborted the request.
            if (last is { Finished: false })
                metrics.Recent.Add(RequestRecord.From(last, tenant, abandoned: true, DateTimeOffset.UtcNow));
        }
    }
}
