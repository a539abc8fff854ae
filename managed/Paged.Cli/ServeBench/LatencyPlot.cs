namespace Paged.Cli.ServeBench;

/// <summary>Draws TTFT and TPOT percentiles against the achieved request throughput of a rate sweep (ScottPlot).</summary>
public static class LatencyPlot
{
    public static void Save(IReadOnlyList<ServeBenchResult> results, string path)
    {
        ArgumentNullException.ThrowIfNull(results);
        var ordered = results.OrderBy(r => r.RequestThroughput).ToArray();
        double[] x = [.. ordered.Select(r => r.RequestThroughput)];
        var plot = new ScottPlot.Plot();
        void Line(string label, Func<ServeBenchResult, double> y)
        {
            var s = plot.Add.Scatter(x, ordered.Select(y).ToArray());
            s.LegendText = label;
        }

        Line("TTFT p50", r => r.TtftMs.Median);
        Line("TTFT p99", r => r.TtftMs.P99);
        Line("TPOT p50", r => r.TpotMs.Median);
        Line("TPOT p99", r => r.TpotMs.P99);
        plot.Axes.Left.Label.Text = "latency (ms)";
        plot.Axes.Bottom.Label.Text = "achieved throughput (requests/s)";
        plot.Axes.Title.Label.Text = "paged bench serve: latency percentiles vs load";
        plot.ShowLegend();
        plot.SavePng(path, 900, 560);
    }
}
