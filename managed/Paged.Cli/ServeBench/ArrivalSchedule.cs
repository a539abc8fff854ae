namespace Paged.Cli.ServeBench;

/// <summary>
/// Request send times of a benchmark: gamma-distributed gaps with mean 1/rate and shape
/// <c>burstiness</c> (1 = exponential gaps, a Poisson process; smaller = burstier), as vLLM's
/// benchmark does. An infinite rate sends everything at once.
/// </summary>
public static class ArrivalSchedule
{
    /// <summary>Offsets in seconds from the start of the run, one per request, non-decreasing.</summary>
    public static double[] Offsets(int count, double rate, double burstiness, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!(rate > 0))
            throw new ArgumentException("the request rate must be positive (or inf)");
        if (!(burstiness > 0) || double.IsInfinity(burstiness))
            throw new ArgumentException("--burstiness must be a positive number");
        var offsets = new double[count];
        if (double.IsPositiveInfinity(rate))
            return offsets;
        double scale = 1 / (rate * burstiness); // mean of Gamma(shape, scale) = shape * scale = 1 / rate
        double t = 0;
        for (int i = 0; i < count; i++)
        {
            offsets[i] = t;
            t += Gamma(burstiness, scale, random);
        }

        return offsets;
    }

    /// <summary>Parses a comma-separated list of rates; "inf" is an infinite rate.</summary>
    public static double[] ParseRates(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rates = new List<double>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (part.Equals("inf", StringComparison.OrdinalIgnoreCase))
                rates.Add(double.PositiveInfinity);
            else if (double.TryParse(part, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double r) && r > 0 && !double.IsNaN(r))
                rates.Add(r);
            else
                throw new ArgumentException($"--request-rate expects positive numbers or inf (got '{part}')");
        }

        return rates.Count > 0 ? [.. rates] : throw new ArgumentException("--request-rate names no rate");
    }

    /// <summary>Marsaglia-Tsang gamma sampler (shape &lt; 1 boosted by U^(1/shape)).</summary>
    internal static double Gamma(double shape, double scale, Random random)
    {
        if (shape < 1)
            return Gamma(shape + 1, scale, random) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        double d = shape - (1.0 / 3), c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + (c * x);
            }
            while (v <= 0);
            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < (0.5 * x * x) + d - (d * v) + (d * Math.Log(v)))
                return d * v * scale;
        }
    }

    private static double Normal(Random random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
