namespace Paged.Cli;

/// <summary>
/// GRPO's group-normalised advantage, as TRL computes it: (r - mean) / (std + eps) over the group's rewards, std with
/// Bessel's correction (n - 1). A group of one has no spread: its advantage is 0.
/// </summary>
internal static class GroupAdvantages
{
    public static double[] Compute(IReadOnlyList<double> rewards, double eps)
    {
        ArgumentNullException.ThrowIfNull(rewards);
        int n = rewards.Count;
        var advantages = new double[n];
        if (n < 2)
            return advantages;
        double mean = rewards.Average();
        double variance = rewards.Sum(r => (r - mean) * (r - mean)) / (n - 1);
        double std = Math.Sqrt(variance);
        for (int i = 0; i < n; i++)
            advantages[i] = (rewards[i] - mean) / (std + eps);
        return advantages;
    }
}
