namespace Paged.Cli.ServeBench;

/// <summary>
/// A workload that mixes long prompts into short chats (the case disaggregated prefill targets): every k-th
/// request, k = 1 / fraction, gets a fresh random prompt of the long length; output lengths are kept.
/// </summary>
public static class LongPromptMix
{
    public static List<ServeRequestSpec> Apply(List<ServeRequestSpec> specs, double fraction, int longInputLen, (int Lo, int Hi) tokenRange, Random random)
    {
        ArgumentNullException.ThrowIfNull(specs);
        ArgumentNullException.ThrowIfNull(random);
        if (!(fraction >= 0 && fraction <= 1))
            throw new ArgumentException($"--long-fraction must be in [0, 1] (got {fraction})");
        if (fraction == 0)
            return specs;
        if (longInputLen < 1)
            throw new ArgumentException($"--long-input-len must be >= 1 (got {longInputLen})");
        double every = 1 / fraction;
        for (double at = every / 2; at < specs.Count; at += every)
        {
            int i = (int)at;
            int[] ids = [.. Enumerable.Range(0, longInputLen).Select(_ => random.Next(tokenRange.Lo, tokenRange.Hi))];
            specs[i] = specs[i] with { PromptTokenIds = ids, PromptText = null, PromptTokens = ids.Length };
        }

        return specs;
    }
}
