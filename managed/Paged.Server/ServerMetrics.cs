using Paged.Engine;
using Prometheus;

namespace Paged.Server;

/// <summary>
/// The metrics vLLM exports, named by Prometheus conventions with a paged_ prefix and labelled with the
/// served model name: gauges and counters are read from an engine snapshot at each scrape, histograms are
/// observed as requests finish (and, for iteration tokens, after every engine step).
/// </summary>
internal sealed class ServerMetrics
{
    private static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
    private static readonly double[] TokenBuckets = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

    private readonly string _model;
    private readonly Gauge _running;
    private readonly Gauge _waiting;
    private readonly Gauge _swapped;
    private readonly Gauge _pending;
    private readonly Gauge _kvUsage;
    private readonly Gauge _kvBlocksUsed;
    private readonly Gauge _kvBlocksTotal;
    private readonly Gauge _engineAlive;
    private readonly Counter _promptTokens;
    private readonly Counter _generationTokens;
    private readonly Counter _preemptions;
    private readonly Counter _prefixQueries;
    private readonly Counter _prefixHits;
    private readonly Counter _finished;
    private readonly Counter _rejected;
    private readonly Histogram _ttft;
    private readonly Histogram _itl;
    private readonly Histogram _e2e;
    private readonly Histogram _queue;
    private readonly Histogram _prefill;
    private readonly Histogram _decode;
    private readonly Histogram _requestPromptTokens;
    private readonly Histogram _requestGenerationTokens;
    private readonly Histogram _iterationTokens;

    /// <summary>The histograms /v1/status summarizes, by their /metrics names.</summary>
    public static readonly string[] StatusHistograms =
        ["paged_time_to_first_token_seconds", "paged_inter_token_latency_seconds", "paged_e2e_request_latency_seconds", "paged_request_queue_time_seconds"];

    public ServerMetrics(string model, int recentRequests = 100)
    {
        _model = model;
        Recent = new RecentRequests(recentRequests);
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        string[] labels = ["model_name"];
        Gauge G(string name, string help) => f.CreateGauge(name, help, new GaugeConfiguration { LabelNames = labels });
        Counter C(string name, string help, params string[] extra) => f.CreateCounter(name, help, new CounterConfiguration { LabelNames = [.. labels, .. extra] });
        Histogram H(string name, string help, double[] buckets) => f.CreateHistogram(name, help, new HistogramConfiguration { LabelNames = labels, Buckets = buckets });

        _running = G("paged_num_requests_running", "Sequences in the running batch.");
        _waiting = G("paged_num_requests_waiting", "Sequences waiting to be scheduled.");
        _swapped = G("paged_num_requests_swapped", "Sequences whose KV blocks are swapped to host memory.");
        _pending = G("paged_num_requests_pending", "Requests accepted but not yet scheduled (the admission queue).");
        _kvUsage = G("paged_kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0 to 1).");
        _kvBlocksUsed = G("paged_kv_cache_blocks_used", "KV-cache blocks in use.");
        _kvBlocksTotal = G("paged_kv_cache_blocks_total", "KV-cache blocks in the pool.");
        _engineAlive = G("paged_engine_alive", "1 while the engine loop runs.");
        _promptTokens = C("paged_prompt_tokens_total", "Prompt tokens of requests whose prefill completed.");
        _generationTokens = C("paged_generation_tokens_total", "Generated tokens.");
        _preemptions = C("paged_num_preemptions_total", "Sequences preempted.");
        _prefixQueries = C("paged_prefix_cache_queries_total", "Full KV blocks looked up in the prefix cache.");
        _prefixHits = C("paged_prefix_cache_hits_total", "Prefix-cache lookups that found the block.");
        _finished = C("paged_request_success_total", "Finished requests by finish reason (stop, length, abort, error).", "finished_reason");
        _rejected = C("paged_requests_rejected_total", "Requests refused because the admission queue was full.");
        _ttft = H("paged_time_to_first_token_seconds", "Arrival to first generated token.", LatencyBuckets);
        _itl = H("paged_inter_token_latency_seconds", "Time between generated tokens as streamed.", LatencyBuckets);
        _e2e = H("paged_e2e_request_latency_seconds", "Arrival to finish.", LatencyBuckets);
        _queue = H("paged_request_queue_time_seconds", "Arrival to first scheduled.", LatencyBuckets);
        _prefill = H("paged_request_prefill_time_seconds", "First scheduled to first token.", LatencyBuckets);
        _decode = H("paged_request_decode_time_seconds", "First token to finish.", LatencyBuckets);
        _requestPromptTokens = H("paged_request_prompt_tokens", "Prompt tokens per request.", TokenBuckets);
        _requestGenerationTokens = H("paged_request_generation_tokens", "Generated tokens per request (all completions).", TokenBuckets);
        _iterationTokens = H("paged_iteration_tokens_total", "Tokens scheduled per engine step.", TokenBuckets);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The last finished requests (the console's request table).</summary>
    public RecentRequests Recent { get; }

    /// <summary>Requests refused with 429 since the start.</summary>
    public double RejectedTotal => _rejected.WithLabels(_model).Value;

    /// <summary>The <see cref="StatusHistograms"/> as /metrics exports them now (read back from the exposition, so both agree).</summary>
    public async Task<IReadOnlyDictionary<string, HistogramSnapshot>> ReadHistogramsAsync(CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(buffer, cancellationToken).ConfigureAwait(false);
        string text = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        return StatusHistograms.ToDictionary(name => name, name => HistogramSnapshot.Parse(text, name));
    }

    /// <summary>Copies an engine snapshot into the gauges and counters (before each scrape).</summary>
    public void Update(EngineSnapshot s, bool engineAlive)
    {
        _running.WithLabels(_model).Set(s.Step.NumRunning);
        _waiting.WithLabels(_model).Set(s.Step.NumWaiting);
        _swapped.WithLabels(_model).Set(s.Step.NumSwapped);
        _pending.WithLabels(_model).Set(s.PendingRequests);
        _kvUsage.WithLabels(_model).Set(s.Step.KvUsage);
        _kvBlocksUsed.WithLabels(_model).Set(s.Step.KvBlocksUsed);
        _kvBlocksTotal.WithLabels(_model).Set(s.Step.KvBlocksTotal);
        _engineAlive.WithLabels(_model).Set(engineAlive ? 1 : 0);
        var c = s.Counters;
        _promptTokens.WithLabels(_model).IncTo(c.PromptTokens);
        _generationTokens.WithLabels(_model).IncTo(c.TokensGenerated);
        _preemptions.WithLabels(_model).IncTo(c.Preemptions);
        _prefixQueries.WithLabels(_model).IncTo(c.PrefixQueries);
        _prefixHits.WithLabels(_model).IncTo(c.PrefixHits);
        foreach (var reason in new[] { FinishReason.Stop, FinishReason.Length, FinishReason.Abort, FinishReason.Error })
            _finished.WithLabels(_model, ReasonLabel(reason)).IncTo(c.FinishedRequests(reason));
    }

    public static string ReasonLabel(FinishReason reason) => reason.ToString().ToLowerInvariant();

    public void Rejected() => _rejected.WithLabels(_model).Inc();

    public void InterTokenLatency(double seconds) => _itl.WithLabels(_model).Observe(seconds);

    public void StepCompleted(EngineSnapshot s)
    {
        if (s.Step.ScheduledTokens > 0)
            _iterationTokens.WithLabels(_model).Observe(s.Step.ScheduledTokens);
    }

    public void RequestFinished(RequestOutput output)
    {
        var t = output.Timings;
        if (t.FirstTokenSeconds is double ttft)
            _ttft.WithLabels(_model).Observe(ttft);
        if (t.FinishedSeconds is double e2e)
            _e2e.WithLabels(_model).Observe(e2e);
        if (t.Scheduled)
            _queue.WithLabels(_model).Observe(t.QueueSeconds);
        if (t.PrefillSeconds is double prefill)
            _prefill.WithLabels(_model).Observe(prefill);
        if (t.DecodeSeconds is double decode)
            _decode.WithLabels(_model).Observe(decode);
        _requestPromptTokens.WithLabels(_model).Observe(output.PromptTokenIds.Count);
        _requestGenerationTokens.WithLabels(_model).Observe(output.Completions.Sum(c => c.TokenIds.Count));
    }
}
