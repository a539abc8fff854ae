using Paged.Cli.ServeBench;

namespace Paged.Cli.Tests;

/// <summary>
/// The long-tailed output lengths of <c>bench throughput --output-len-dist</c> have the mean and median their
/// definitions give. 40,000 seeded draws: the standard error of the mean is mean/200 (exponential) and
/// mean*sqrt(e-1)/200 = 0.0066*mean (lognormal, sigma 1), so 4% is over 6 standard errors; rounding to integers
/// moves the mean by at most 0.5.
/// </summary>
[TestClass]
public sealed class OutputLengthDistributionTests
{
    private static List<int> Draw(OutputLengthShape shape, double mean, int max, int count = 40_000)
    {
        var random = new Random(7);
        var d = new OutputLengthDistribution(shape, mean, 0, 1.0, max);
        return [.. Enumerable.Range(0, count).Select(_ => d.Sample(random))];
    }

    private static double Median(List<int> xs)
    {
        var sorted = xs.Order().ToList();
        return (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2.0;
    }

    [TestMethod]
    public void ExponentialHasItsMeanAndMedian()
    {
        var xs = Draw(OutputLengthShape.Exponential, 200, int.MaxValue);
        Assert.AreEqual(200, xs.Average(), 8);
        Assert.AreEqual(200 * Math.Log(2), Median(xs), 200 * Math.Log(2) * 0.04);
        Assert.IsGreaterThan(4 * 200, xs.Max(), "a long tail: P(X > 4 mean) = e^-4, about 730 of 40,000 draws");
    }

    [TestMethod]
    public void LognormalHasItsMeanAndMedian()
    {
        var xs = Draw(OutputLengthShape.Lognormal, 200, int.MaxValue);
        Assert.AreEqual(200, xs.Average(), 8);
        Assert.AreEqual(200 * Math.Exp(-0.5), Median(xs), 200 * Math.Exp(-0.5) * 0.04, "median exp(mu) = mean * exp(-sigma^2 / 2)");
    }

    [TestMethod]
    public void LengthsAreClippedToOneAndTheMax()
    {
        foreach (var shape in new[] { OutputLengthShape.Uniform, OutputLengthShape.Exponential, OutputLengthShape.Lognormal })
        {
            var xs = Draw(shape, 40, 50, 5_000);
            Assert.IsTrue(xs.All(x => x is >= 1 and <= 50), shape.ToString());
        }
    }
}
