namespace Paged.Cli.ServeBench;

/// <summary>Mean, median, standard deviation and percentiles of a set of latencies (milliseconds).</summary>
public sealed record LatencyStats(double Mean, double Median, double Std, double P90, double P99)
{
    public static LatencyStats Empty { get; } = new(0, 0, 0, 0, 0);

    /// <summary>Percentiles interpolate linearly between the two nearest ranks (numpy's default, as vLLM reports).</summary>
    public static LatencyStats Of(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
            return Empty;
        var sorted = values.Order().ToArray();
        double mean = sorted.Average();
        double variance = sorted.Sum(v => (v - mean) * (v - mean)) / sorted.Length;
        return new LatencyStats(mean, Percentile(sorted, 50), Math.Sqrt(variance), Percentile(sorted, 90), Percentile(sorted, 99));
    }

    public static double Percentile(double[] sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 0)
            return 0;
        double rank = p / 100 * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((rank - lo) * (sorted[hi] - sorted[lo]));
    }
}
