namespace Paged.Server.Tests;

[TestClass]
public sealed class HistogramSnapshotTests
{
    // Buckets (cumulative): <=0.1: 2, <=0.5: 6, <=1: 8, +Inf: 10 observations, as prometheus-net writes them.
    private const string Exposition = """
        # HELP paged_x_seconds Something.
        # TYPE paged_x_seconds histogram
        paged_x_seconds_sum{model_name="m"} 7.25
        paged_x_seconds_count{model_name="m"} 10
        paged_x_seconds_bucket{model_name="m",le="0.1"} 2
        paged_x_seconds_bucket{model_name="m",le="0.5"} 6
        paged_x_seconds_bucket{model_name="m",le="1.0"} 8
        paged_x_seconds_bucket{model_name="m",le="+Inf"} 10
        paged_x_seconds_other{model_name="m"} 99
        paged_xy_seconds_count{model_name="m"} 3
        """;

    [TestMethod]
    public void ParsesBucketsSumAndCount()
    {
        var h = HistogramSnapshot.Parse(Exposition, "paged_x_seconds");
        Assert.AreEqual(10, h.Count);
        Assert.AreEqual(7.25, h.Sum);
        CollectionAssert.AreEqual(new[] { 0.1, 0.5, 1.0, double.PositiveInfinity }, h.Buckets.Select(b => b.UpperBound).ToArray());
        CollectionAssert.AreEqual(new long[] { 2, 6, 8, 10 }, h.Buckets.Select(b => b.Count).ToArray());
    }

    [TestMethod]
    [DataRow(0.1, 0.05)]   // rank 1 of 2 in (0, 0.1]
    [DataRow(0.5, 0.4)]    // rank 5: 0.1 + 0.4 * (5 - 2) / (6 - 2)
    [DataRow(0.7, 0.75)]   // rank 7: 0.5 + 0.5 * (7 - 6) / (8 - 6)
    [DataRow(0.99, 1.0)]   // rank 9.9 falls in +Inf: the largest finite bound
    public void QuantilesInterpolateInsideTheBucketAsHistogramQuantileDoes(double q, double expected)
    {
        var h = HistogramSnapshot.Parse(Exposition, "paged_x_seconds");
        Assert.AreEqual(expected, h.Quantile(q)!.Value, 1e-12);
    }

    [TestMethod]
    public void EmptyHistogramHasNoQuantile()
    {
        var h = HistogramSnapshot.Parse(Exposition, "paged_absent_seconds");
        Assert.AreEqual(0, h.Count);
        Assert.IsNull(h.Quantile(0.5));
    }
}
