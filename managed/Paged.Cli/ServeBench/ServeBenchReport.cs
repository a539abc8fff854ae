using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Paged.Cli.ServeBench;

/// <summary>Writes benchmark results as a markdown table (for docs/benchmarks.md) and as JSON.</summary>
public static class ServeBenchReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    public static string ToJson(IReadOnlyList<ServeBenchResult> results) => JsonSerializer.Serialize(results, JsonOptions);

    public static IReadOnlyList<ServeBenchResult> FromJson(string json) =>
        JsonSerializer.Deserialize<List<ServeBenchResult>>(json, JsonOptions) ?? [];

    /// <summary>One row per request rate: throughput, then mean / p50 / p99 of TTFT, TPOT, ITL and E2E latency.</summary>
    public static string ToMarkdown(IReadOnlyList<ServeBenchResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var sb = new StringBuilder();
        bool goodput = results.Any(r => r.RequestGoodput is not null);
        sb.Append("| rate (req/s) | done | failed | req/s | out tok/s |");
        if (goodput)
            sb.Append(" goodput req/s |");
        sb.AppendLine(" TTFT mean / p50 / p99 ms | TPOT mean / p50 / p99 ms | ITL mean / p50 / p99 ms | E2E mean / p50 / p99 ms |");
        sb.Append("|---|---|---|---|---|");
        if (goodput)
            sb.Append("---|");
        sb.AppendLine("---|---|---|---|");
        foreach (var r in results)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {Rate(r.RequestRate)} | {r.Completed} | {r.Failed} | {r.RequestThroughput:F2} | {r.OutputThroughput:F1} |");
            if (goodput)
                sb.Append(CultureInfo.InvariantCulture, $" {r.RequestGoodput ?? 0:F2} |");
            sb.AppendLine(CultureInfo.InvariantCulture, $" {Triple(r.TtftMs)} | {Triple(r.TpotMs)} | {Triple(r.ItlMs)} | {Triple(r.E2elMs)} |");
        }

        foreach (var r in results.Where(r => r.TtftMsByTenant.Count > 0))
        {
            sb.Append(CultureInfo.InvariantCulture, $"\nTTFT by tenant at {Rate(r.RequestRate)} req/s:");
            foreach (var (tenant, s) in r.TtftMsByTenant.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                sb.Append(CultureInfo.InvariantCulture, $" {tenant} {Triple(s)} ms;");
            sb.AppendLine();
        }

        return sb.ToString();
    }

    public static string Rate(double rate) => double.IsPositiveInfinity(rate) ? "inf" : rate.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Triple(LatencyStats s) => string.Create(CultureInfo.InvariantCulture, $"{s.Mean:F1} / {s.Median:F1} / {s.P99:F1}");
}
