using Prometheus;

namespace Paged.Server.Router;

/// <summary>The router's own /metrics: requests by route, upstream errors, and each instance's health and load as last polled.</summary>
internal sealed class RouterMetrics
{
    /// <summary>Route kinds: prefill then decode on two instances; a colocated instance; the decode instance alone (it recomputes the prompt).</summary>
    public const string Disagg = "disagg";
    public const string FallbackBoth = "fallback_both";
    public const string FallbackDecodeOnly = "fallback_decode_only";

    private readonly Counter _requests;
    private readonly Counter _upstreamErrors;
    private readonly Counter _rejected;
    private readonly Gauge _healthy;
    private readonly Gauge _load;

    public RouterMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        _requests = f.CreateCounter("paged_router_requests_total", "Requests answered by an instance, by route kind (disagg, fallback_both, fallback_decode_only).",
            new CounterConfiguration { LabelNames = ["route"] });
        _upstreamErrors = f.CreateCounter("paged_router_upstream_errors_total", "Failed calls to instances, by instance, role and reason.",
            new CounterConfiguration { LabelNames = ["instance", "role", "reason"] });
        _rejected = f.CreateCounter("paged_router_requests_rejected_total", "Requests refused because the router's concurrent request limit was reached.");
        _healthy = f.CreateGauge("paged_router_instance_healthy", "1 when the instance's last /health poll succeeded and it is not cooling down after a failed call.",
            new GaugeConfiguration { LabelNames = ["instance", "role"] });
        _load = f.CreateGauge("paged_router_instance_load", "Running + waiting requests of the instance at its last /metrics poll (-1: unknown).",
            new GaugeConfiguration { LabelNames = ["instance", "role"] });
        foreach (string route in new[] { Disagg, FallbackBoth, FallbackDecodeOnly })
            _requests.WithLabels(route).IncTo(0);
    }

    public CollectorRegistry Registry { get; }

    public void Routed(string route) => _requests.WithLabels(route).Inc();

    public void UpstreamError(UpstreamInstance instance, string reason) => _upstreamErrors.WithLabels(instance.Name, instance.RoleLabel, reason).Inc();

    public void Rejected() => _rejected.Inc();

    /// <summary>Copies every instance's state into the gauges (before each scrape).</summary>
    public void Update(InstancePool pool, long now)
    {
        foreach (var i in pool.All)
        {
            _healthy.WithLabels(i.Name, i.RoleLabel).Set(i.IsEligible(now) ? 1 : 0);
            _load.WithLabels(i.Name, i.RoleLabel).Set(i.Load ?? -1);
        }
    }
}
