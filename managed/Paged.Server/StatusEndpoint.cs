using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Engine.Kv;

namespace Paged.Server;

/// <summary>
/// GET /v1/status: the console dashboard's feed, one JSON object per poll. Every number comes from where
/// /metrics gets it: gauges and counters from the engine snapshot, latency quantiles from the same Prometheus
/// histograms; the block map and per-tenant work are taken on the engine's thread with that snapshot.
/// Fields are documented in docs/console.md.
/// </summary>
internal sealed class StatusEndpoint(AsyncEngine engine, ServerOptions options, ServerMetrics metrics)
{
    /// <summary>One character per KV block in the block_states string, indexed by <see cref="KvBlockState"/>.</summary>
    public const string BlockStateChars = ".cus";

    private static readonly double[] Quantiles = [0.5, 0.9, 0.99];
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    public async Task HandleAsync(HttpContext ctx)
    {
        EngineDetail detail;
        try
        {
            detail = await engine.GetDetailAsync(ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (ObjectDisposedException e)
        {
            throw new ApiException(503, $"the engine has stopped: {e.Message}", code: "engine_unavailable");
        }

        var histograms = await metrics.ReadHistogramsAsync(ctx.RequestAborted).ConfigureAwait(false);
        await JsonResponses.WriteAsync(ctx.Response, 200, Build(detail, histograms, DateTimeOffset.UtcNow), ctx.RequestAborted).ConfigureAwait(false);
    }

    public JsonObject Build(EngineDetail detail, IReadOnlyDictionary<string, HistogramSnapshot> histograms, DateTimeOffset now)
    {
        var s = detail.Snapshot;
        var step = s.Step;
        var c = s.Counters;
        var map = detail.KvBlocks;
        var finished = new JsonObject();
        foreach (var reason in new[] { FinishReason.Stop, FinishReason.Length, FinishReason.Abort, FinishReason.Error })
            finished[ServerMetrics.ReasonLabel(reason)] = c.FinishedRequests(reason);

        return new JsonObject
        {
            ["object"] = "status",
            ["model"] = options.ServedModelName,
            ["time"] = now.ToUnixTimeMilliseconds() / 1000.0,
            ["uptime_s"] = (now - _started).TotalSeconds,
            ["engine_alive"] = engine.IsAlive,
            ["device"] = engine.DeviceName,
            ["policy"] = detail.Policy.ToString().ToLowerInvariant(),
            ["requests"] = new JsonObject
            {
                ["running"] = step.NumRunning,
                ["waiting"] = step.NumWaiting,
                ["swapped"] = step.NumSwapped,
                ["pending"] = s.PendingRequests,
                ["live"] = s.LiveRequests,
                ["rejected_total"] = (long)metrics.RejectedTotal,
                ["finished_total"] = finished,
            },
            ["tokens"] = new JsonObject
            {
                ["prompt_total"] = c.PromptTokens,
                ["generation_total"] = c.TokensGenerated,
                ["computed_total"] = c.TokensComputed,
                ["steps_total"] = c.Steps,
                ["last_step_scheduled"] = step.ScheduledTokens,
            },
            ["preemptions"] = new JsonObject { ["total"] = c.Preemptions, ["swap_outs_total"] = c.SwapOuts },
            ["kv_cache"] = new JsonObject
            {
                ["block_size"] = map.BlockSize,
                ["blocks_total"] = step.KvBlocksTotal,
                ["blocks_used"] = step.KvBlocksUsed,
                ["blocks_free"] = step.KvBlocksTotal - step.KvBlocksUsed,
                ["blocks_cached"] = map.Cached,
                ["blocks_shared"] = map.Shared,
                ["usage"] = step.KvUsage,
                ["slots_filled"] = step.KvSlotsFilled,
                ["slots_allocated"] = step.KvSlotsAllocated,
                ["host_slots_used"] = map.HostSlotsUsed,
                ["host_slots_total"] = map.HostSlotsTotal,
                ["block_states"] = BlockStates(map),
            },
            ["prefix_cache"] = new JsonObject { ["queries_total"] = c.PrefixQueries, ["hits_total"] = c.PrefixHits, ["hit_rate"] = c.PrefixHitRate },
            ["latency"] = new JsonObject
            {
                ["ttft_s"] = Histogram(histograms["paged_time_to_first_token_seconds"]),
                ["itl_s"] = Histogram(histograms["paged_inter_token_latency_seconds"]),
                ["e2e_s"] = Histogram(histograms["paged_e2e_request_latency_seconds"]),
                ["queue_s"] = Histogram(histograms["paged_request_queue_time_seconds"]),
            },
            ["tenants"] = new JsonArray([.. detail.Tenants.Select(t => (JsonNode)new JsonObject
            {
                ["tenant"] = t.Tenant,
                ["running"] = t.Running,
                ["waiting"] = t.Waiting,
                ["swapped"] = t.Swapped,
                ["counter"] = t.Counter,
            })]),
            ["recent_requests"] = new JsonObject
            {
                ["capacity"] = metrics.Recent.Capacity,
                ["recorded_total"] = metrics.Recent.Added,
                ["items"] = new JsonArray([.. metrics.Recent.Newest().Select(Record)]),
            },
        };
    }

    public static string BlockStates(KvBlockMap map) => string.Create(map.States.Count, map, static (span, m) =>
    {
        for (int i = 0; i < span.Length; i++)
            span[i] = BlockStateChars[(int)m.States[i]];
    });

    private static JsonObject Histogram(HistogramSnapshot h)
    {
        var o = new JsonObject { ["count"] = h.Count, ["sum"] = h.Sum };
        foreach (double q in Quantiles)
            o["p" + (q * 100).ToString(CultureInfo.InvariantCulture)] = h.Quantile(q);
        o["buckets"] = new JsonArray([.. h.Buckets.Select(b => (JsonNode)new JsonArray(
            double.IsPositiveInfinity(b.UpperBound) ? "+Inf" : JsonValue.Create(b.UpperBound), b.Count))]);
        return o;
    }

    private static JsonNode Record(RequestRecord r) => new JsonObject
    {
        ["id"] = r.Id,
        ["tenant"] = r.Tenant,
        ["arrival_time"] = r.ArrivalTime.ToUnixTimeMilliseconds() / 1000.0,
        ["queue_s"] = r.QueueSeconds,
        ["ttft_s"] = r.TtftSeconds,
        ["tpot_s"] = r.TpotSeconds,
        ["total_s"] = r.TotalSeconds,
        ["prompt_tokens"] = r.PromptTokens,
        ["cached_prompt_tokens"] = r.CachedPromptTokens,
        ["completion_tokens"] = r.CompletionTokens,
        ["preemptions"] = r.Preemptions,
        ["finish_reason"] = r.FinishReason,
    };
}
