using Paged.Engine.KvTransfer;
using Prometheus;

namespace Paged.Server.KvTransfer;

/// <summary>
/// The disaggregation metrics: blocks, bytes and seconds of transfers (direction sent on the prefill side,
/// received on the decode side), pulls that failed (the decode side then recomputed or failed, by policy),
/// and on the prefill side the blocks pinned by leases and the leases that expired unacknowledged.
/// </summary>
internal sealed class KvTransferMetrics
{
    private static readonly double[] SecondsBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly string _model;
    private readonly Counter _blocks;
    private readonly Counter _bytes;
    private readonly Counter _failures;
    private readonly Histogram _seconds;
    private readonly Gauge _pinned;
    private readonly Counter _expired;

    public KvTransferMetrics(CollectorRegistry registry, string model, KvTransferConnector connector)
    {
        _model = model;
        var f = Metrics.WithCustomRegistry(registry);
        _blocks = f.CreateCounter("paged_kv_transfer_blocks_total", "KV blocks transferred.", new CounterConfiguration { LabelNames = ["model_name", "direction"] });
        _bytes = f.CreateCounter("paged_kv_transfer_bytes_total", "KV bytes transferred.", new CounterConfiguration { LabelNames = ["model_name", "direction"] });
        _failures = f.CreateCounter("paged_kv_transfer_failures_total", "KV pulls that failed (timeout, connection, checksum, lease gone, mismatch); the request was recomputed or failed by policy.",
            new CounterConfiguration { LabelNames = ["model_name", "reason"] });
        _seconds = f.CreateHistogram("paged_kv_transfer_seconds", "Duration of one KV transfer (all of a prompt's blocks).",
            new HistogramConfiguration { LabelNames = ["model_name", "direction"], Buckets = SecondsBuckets });
        _pinned = f.CreateGauge("paged_kv_pinned_blocks", "KV blocks pinned by finished prefills awaiting their pull.", new GaugeConfiguration { LabelNames = ["model_name"] });
        _expired = f.CreateCounter("paged_kv_lease_expired_total", "Leases whose blocks were freed because nobody acknowledged them in time.", new CounterConfiguration { LabelNames = ["model_name"] });
        registry.AddBeforeCollectCallback(() =>
        {
            _pinned.WithLabels(_model).Set(connector.PinnedBlocks);
            _expired.WithLabels(_model).IncTo(connector.LeasesExpired);
        });
    }

    public void Transferred(string direction, int blocks, long bytes, double seconds)
    {
        _blocks.WithLabels(_model, direction).Inc(blocks);
        _bytes.WithLabels(_model, direction).Inc(bytes);
        _seconds.WithLabels(_model, direction).Observe(seconds);
    }

    public void Failed(string reason) => _failures.WithLabels(_model, reason).Inc();
}
