using System.Globalization;

namespace Paged.Cli.ServeBench;

/// <summary>Service-level objectives for goodput, in milliseconds (null = not constrained).</summary>
public sealed record Slo(double? TtftMs, double? TpotMs, double? E2elMs)
{
    public static Slo None { get; } = new(null, null, null);

    /// <summary>Parses KEY:MS pairs (ttft, tpot, e2el).</summary>
    public static Slo Parse(IEnumerable<string> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var slo = None;
        foreach (string pair in pairs)
        {
            var parts = pair.Split(':');
            if (parts.Length != 2 || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) || !(ms > 0))
                throw new ArgumentException($"--goodput expects KEY:MS with KEY ttft, tpot or e2el (got '{pair}')");
            slo = parts[0].ToLowerInvariant() switch
            {
                "ttft" => slo with { TtftMs = ms },
                "tpot" => slo with { TpotMs = ms },
                "e2el" => slo with { E2elMs = ms },
                _ => throw new ArgumentException($"--goodput: unknown metric '{parts[0]}' (ttft, tpot or e2el)"),
            };
        }

        return slo;
    }

    public bool IsSet => TtftMs is not null || TpotMs is not null || E2elMs is not null;

    public bool Meets(RequestRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Success
            && (TtftMs is not double t || r.TtftSeconds * 1000 <= t)
            && (TpotMs is not double p || (r.TpotSeconds ?? 0) * 1000 <= p)
            && (E2elMs is not double e || r.LatencySeconds * 1000 <= e);
    }
}

/// <summary>The figures of one benchmark run at one request rate (latencies in milliseconds).</summary>
public sealed record ServeBenchResult
{
    public required double RequestRate { get; init; }
    public required int MaxConcurrency { get; init; }
    public required double DurationSeconds { get; init; }
    public required int Completed { get; init; }
    public required int Failed { get; init; }
    public required long TotalInputTokens { get; init; }
    public required long TotalOutputTokens { get; init; }
    public required double RequestThroughput { get; init; }
    public required double OutputThroughput { get; init; }
    public required double TotalTokenThroughput { get; init; }
    public double? RequestGoodput { get; init; }
    public required LatencyStats TtftMs { get; init; }
    public required LatencyStats TpotMs { get; init; }
    public required LatencyStats ItlMs { get; init; }
    public required LatencyStats E2elMs { get; init; }
    public IReadOnlyDictionary<string, LatencyStats> TtftMsByTenant { get; init; } = new Dictionary<string, LatencyStats>();
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>Aggregates the requests of one run (failed requests count only as failures).</summary>
    public static ServeBenchResult From(IReadOnlyList<RequestRecord> records, double durationSeconds, double rate, int maxConcurrency, Slo slo)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(slo);
        var ok = records.Where(r => r.Success).ToList();
        long input = ok.Sum(r => (long)r.PromptTokens);
        long output = ok.Sum(r => (long)r.OutputTokens);
        double d = durationSeconds > 0 ? durationSeconds : double.Epsilon;
        static double Ms(double s) => s * 1000;
        return new ServeBenchResult
        {
            RequestRate = rate,
            MaxConcurrency = maxConcurrency,
            DurationSeconds = durationSeconds,
            Completed = ok.Count,
            Failed = records.Count - ok.Count,
            TotalInputTokens = input,
            TotalOutputTokens = output,
            RequestThroughput = ok.Count / d,
            OutputThroughput = output / d,
            TotalTokenThroughput = (input + output) / d,
            RequestGoodput = slo.IsSet ? ok.Count(slo.Meets) / d : null,
            TtftMs = LatencyStats.Of([.. ok.Select(r => Ms(r.TtftSeconds))]),
            TpotMs = LatencyStats.Of([.. ok.Where(r => r.TpotSeconds is not null).Select(r => Ms(r.TpotSeconds!.Value))]),
            ItlMs = LatencyStats.Of([.. ok.SelectMany(r => r.Itl).Select(Ms)]),
            E2elMs = LatencyStats.Of([.. ok.Select(r => Ms(r.LatencySeconds))]),
            TtftMsByTenant = ok.Where(r => r.Tenant is not null).GroupBy(r => r.Tenant!)
                .ToDictionary(g => g.Key, g => LatencyStats.Of([.. g.Select(r => Ms(r.TtftSeconds))])),
            Errors = [.. records.Where(r => !r.Success).Select(r => r.Error ?? "unknown error").Distinct().Take(10)],
        };
    }
}
