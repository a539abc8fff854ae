namespace Paged.Cli.ServeBench;

/// <summary>What one benchmark request measured (seconds; Itl = gaps between streamed chunks after the first).</summary>
public sealed record RequestRecord(
    bool Success,
    string? Error,
    int PromptTokens,
    int OutputTokens,
    double TtftSeconds,
    double LatencySeconds,
    IReadOnlyList<double> Itl,
    string? Tenant)
{
    /// <summary>Time per output token after the first; null with fewer than two tokens.</summary>
    public double? TpotSeconds => Success && OutputTokens > 1 ? (LatencySeconds - TtftSeconds) / (OutputTokens - 1) : null;

    public static RequestRecord Failed(string error, int promptTokens, string? tenant) =>
        new(false, error, promptTokens, 0, 0, 0, [], tenant);
}
