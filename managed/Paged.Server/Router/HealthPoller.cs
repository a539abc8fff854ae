namespace Paged.Server.Router;

/// <summary>
/// Reads every instance's GET /health (2xx: healthy) and GET /metrics (running + waiting requests) with a
/// timeout, once at start and then every poll interval, until disposed.
/// </summary>
internal sealed class HealthPoller(InstancePool pool, UpstreamClient upstream, RouterMetrics metrics, RouterOptions options) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await PollAllAsync(cancellationToken).ConfigureAwait(false);
        if (options.PollInterval != Timeout.InfiniteTimeSpan)
            _loop = LoopAsync(_stop.Token);
    }

    public Task PollAllAsync(CancellationToken cancellationToken) => Task.WhenAll(pool.All.Select(i => PollAsync(i, cancellationToken)));

    private async Task LoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(options.PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
                await PollAllAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task PollAsync(UpstreamInstance instance, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.PollTimeout);
        bool healthy = false;
        double? load = null;
        try
        {
            using (var health = await upstream.GetAsync(instance, "health", timeout.Token).ConfigureAwait(false))
                healthy = health.IsSuccessStatusCode;
            if (healthy)
            {
                using var response = await upstream.GetAsync(instance, "metrics", timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    string text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                    load = PrometheusText.Sum(text, "paged_num_requests_running") + PrometheusText.Sum(text, "paged_num_requests_waiting");
                }
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            metrics.UpstreamError(instance, "poll");
        }

        if (!cancellationToken.IsCancellationRequested)
            instance.Polled(healthy, load);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
