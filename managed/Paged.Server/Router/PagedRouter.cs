using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using static Paged.Server.HttpHosting;

namespace Paged.Server.Router;

/// <summary>
/// <c>paged router</c>: an OpenAI-compatible front (Kestrel, minimal APIs) over prefill, decode and colocated
/// instances. It holds no model: it reads request bodies only to build the two upstream calls.
/// </summary>
public sealed class PagedRouter : IAsyncDisposable
{
    private const string ConcurrencyPolicy = "upstream";

    private readonly WebApplication _app;
    private readonly HealthPoller _poller;
    private readonly UpstreamClient _upstream;

    private PagedRouter(WebApplication app, HealthPoller poller, UpstreamClient upstream)
    {
        _app = app;
        _poller = poller;
        _upstream = upstream;
        Port = BoundPort(app);
    }

    /// <summary>The bound port (the chosen one when <see cref="RouterOptions.Port"/> was 0).</summary>
    public int Port { get; }

    /// <summary>Starts the router after one health and load poll of every instance.</summary>
    public static Task<PagedRouter> StartAsync(RouterOptions options, CancellationToken cancellationToken = default) =>
        StartAsync(options, TimeProvider.System, cancellationToken);

    internal static async Task<PagedRouter> StartAsync(RouterOptions options, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var metrics = new RouterMetrics();
        var builder = CreateBuilder(options.Host, options.Port, options.MaxBodyBytes);
        builder.Services.AddRateLimiter(r =>
        {
            r.AddConcurrencyLimiter(ConcurrencyPolicy, c =>
            {
                c.PermitLimit = options.MaxConcurrentRequests;
                c.QueueLimit = 0;
            });
            r.OnRejected = (context, token) =>
            {
                metrics.Rejected();
                return new ValueTask(JsonResponses.WriteErrorAsync(context.HttpContext.Response,
                    new ApiException(429, $"the router is at its limit of {options.MaxConcurrentRequests} concurrent requests; retry later", code: "too_many_requests")
                    {
                        RetryAfterSeconds = options.RetryAfterSeconds,
                    }, token));
            };
        });
        var app = builder.Build();

        var pool = new InstancePool(options, time);
        var upstream = new UpstreamClient(options);
        var poller = new HealthPoller(pool, upstream, metrics, options);
        var routes = new RouteHandler(options, pool, upstream, metrics);
        var utility = new RouterUtilityEndpoints(pool, upstream, metrics, time);

        if (options.ApiKey is { Length: > 0 } key)
            app.Use(RequireApiKey(key));
        app.UseRateLimiter();
        app.MapPost("/v1/completions", Guard(routes.CompletionsAsync)).RequireRateLimiting(ConcurrencyPolicy);
        app.MapPost("/v1/chat/completions", Guard(routes.ChatCompletionsAsync)).RequireRateLimiting(ConcurrencyPolicy);
        app.MapGet("/v1/models", Guard(utility.ModelsAsync));
        app.MapGet("/health", Guard(utility.HealthAsync));
        app.MapGet("/metrics", Guard(utility.MetricsAsync));
        app.MapFallback(Guard(ctx => throw new ApiException(404, $"no route {ctx.Request.Method} {ctx.Request.Path}", code: "not_found")));

        try
        {
            await poller.StartAsync(cancellationToken).ConfigureAwait(false);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await poller.DisposeAsync().ConfigureAwait(false);
            upstream.Dispose();
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new PagedRouter(app, poller, upstream);
    }

    /// <summary>Polls every instance's /health and /metrics now (tests use it instead of waiting for the next tick).</summary>
    internal Task PollNowAsync(CancellationToken cancellationToken = default) => _poller.PollAllAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _poller.DisposeAsync().ConfigureAwait(false);
        _upstream.Dispose();
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
