using Microsoft.AspNetCore.Http;
using Prometheus;

namespace Paged.Server.Router;

/// <summary>The router's GET /v1/models (an instance's list, relayed), GET /health and GET /metrics (its own).</summary>
internal sealed class RouterUtilityEndpoints(InstancePool pool, UpstreamClient upstream, RouterMetrics metrics, TimeProvider time)
{
    private static readonly InstanceRole[] ModelListOrder = [InstanceRole.Decode, InstanceRole.Both, InstanceRole.Prefill];

    /// <summary>The instances serve one model under one name: the first that answers lists it.</summary>
    public async Task ModelsAsync(HttpContext ctx)
    {
        foreach (var role in ModelListOrder)
        {
            var tried = new List<UpstreamInstance>();
            while (pool.Choose(role, tried) is { } instance)
            {
                tried.Add(instance);
                try
                {
                    using var response = await upstream.GetAsync(instance, "v1/models", ctx.RequestAborted).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        await ResponseRelay.RelayWholeAsync(ctx, instance, response, ctx.RequestAborted).ConfigureAwait(false);
                        return;
                    }

                    metrics.UpstreamError(instance, "models_status");
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ctx.RequestAborted.IsCancellationRequested)
                {
                    metrics.UpstreamError(instance, e is HttpRequestException ? "connect" : "timeout");
                    pool.Failed(instance);
                }
            }
        }

        throw new ApiException(503, "no instance answered GET /v1/models", type: "service_unavailable", code: "no_healthy_instance");
    }

    /// <summary>200 while some request could be answered (a decode or colocated instance is eligible), else 503.</summary>
    public Task HealthAsync(HttpContext ctx)
    {
        ctx.Response.StatusCode = pool.AnyEligible(InstanceRole.Decode) || pool.AnyEligible(InstanceRole.Both) ? 200 : 503;
        return Task.CompletedTask;
    }

    public async Task MetricsAsync(HttpContext ctx)
    {
        metrics.Update(pool, time.GetTimestamp());
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }
}
