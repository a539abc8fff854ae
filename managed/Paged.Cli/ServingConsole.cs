namespace Paged.Cli;

/// <summary>What the long-running HTTP verbs (<c>serve</c>, <c>router</c>) share: options defaulted from the environment, the printed address, waiting for the stop signal.</summary>
internal static class ServingConsole
{
    /// <summary>The option's value, else the environment variable's when set and not empty, else null.</summary>
    public static string? OptionOrEnvironment(string? value, string variable) =>
        value ?? (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } s ? s : null);

    /// <summary>The host as it appears in a URL (IPv6 addresses in brackets).</summary>
    public static string UrlHost(string host) => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;

    /// <summary>Returns when <paramref name="stop"/> is cancelled (Ctrl+C or SIGTERM).</summary>
    public static async Task WaitForStopAsync(CancellationToken stop)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
