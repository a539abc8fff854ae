namespace Paged.Cli.ServeBench;

/// <summary>Shapes of the output-length distribution of <c>paged bench throughput --output-len-dist</c>.</summary>
public enum OutputLengthShape
{
    /// <summary>Uniform in [len*(1-r), len*(1+r)] (r = <c>--range-ratio</c>).</summary>
    Uniform,

    /// <summary>Exponential with the given mean: many short answers, a long tail.</summary>
    Exponential,

    /// <summary>Log-normal with the given mean and log-space sigma (1.0 by default): the long-tailed shape of
    /// chat answer lengths such as ShareGPT's.</summary>
    Lognormal,
}

/// <summary>
/// Draws output lengths with a given mean from a <see cref="OutputLengthShape"/>, clipped to [1, max].
/// Static batching runs each group until its longest request, so the tail of this distribution is what
/// separates it from continuous batching; vLLM's comparisons use ShareGPT, whose lengths are long-tailed.
/// </summary>
public sealed class OutputLengthDistribution(OutputLengthShape shape, double mean, double rangeRatio, double sigma, int max)
{
    /// <summary>One length in [1, max].</summary>
    public int Sample(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double value = shape switch
        {
            OutputLengthShape.Uniform => ServeWorkload.Spread((int)mean, rangeRatio, random),
            // Inverse CDF; 1 - U is in (0, 1], so the log is finite.
            OutputLengthShape.Exponential => -mean * Math.Log(1 - random.NextDouble()),
            // mu chosen so that E[exp(N(mu, sigma^2))] = mean.
            OutputLengthShape.Lognormal => Math.Exp(Math.Log(mean) - (sigma * sigma / 2) + (sigma * StandardNormal(random))),
            _ => throw new InvalidOperationException($"unknown output length shape {shape}"),
        };
        return (int)Math.Clamp(Math.Round(value), 1, max);
    }

    /// <summary>Box-Muller.</summary>
    private static double StandardNormal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
