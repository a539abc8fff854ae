using System.Globalization;

namespace Paged.Server;

/// <summary>
/// One Prometheus histogram as read from the text exposition: cumulative bucket counts by upper bound, the
/// sum and the count. Quantiles are interpolated linearly inside the bucket that holds the rank, as
/// Prometheus' histogram_quantile does, so they are as coarse as the buckets.
/// </summary>
public sealed record HistogramSnapshot(IReadOnlyList<(double UpperBound, long Count)> Buckets, double Sum, long Count)
{
    /// <summary>Reads the series <paramref name="name"/>_bucket / _sum / _count (one label set) from exposition text; empty when absent.</summary>
    public static HistogramSnapshot Parse(string exposition, string name)
    {
        ArgumentNullException.ThrowIfNull(exposition);
        var buckets = new List<(double, long)>();
        double sum = 0;
        long count = 0;
        foreach (string line in exposition.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || line[name.Length] != '_')
                continue;
            string rest = line[(name.Length + 1)..];
            string value = line[(line.LastIndexOf(' ') + 1)..];
            if (rest.StartsWith("bucket{", StringComparison.Ordinal))
            {
                int le = rest.IndexOf("le=\"", StringComparison.Ordinal) + 4;
                string bound = rest[le..rest.IndexOf('"', le)];
                buckets.Add((bound == "+Inf" ? double.PositiveInfinity : ParseDouble(bound), (long)ParseDouble(value)));
            }
            else if (rest.StartsWith("sum", StringComparison.Ordinal))
            {
                sum = ParseDouble(value);
            }
            else if (rest.StartsWith("count", StringComparison.Ordinal))
            {
                count = (long)ParseDouble(value);
            }
        }

        return new HistogramSnapshot(buckets, sum, count);
    }

    /// <summary>The q-quantile (0..1), or null without observations. Ranks in the +Inf bucket answer the largest finite bound.</summary>
    public double? Quantile(double q)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q, 1);
        if (Count == 0 || Buckets.Count == 0)
            return null;
        double rank = q * Count;
        double lower = 0;
        long below = 0;
        foreach (var (upper, cumulative) in Buckets)
        {
            if (cumulative >= rank && cumulative > below)
            {
                if (double.IsPositiveInfinity(upper))
                    return lower;
                return lower + ((upper - lower) * (rank - below) / (cumulative - below));
            }

            lower = upper;
            below = cumulative;
        }

        return lower;
    }

    private static double ParseDouble(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
