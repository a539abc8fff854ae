using Paged.Server.Router;

namespace Paged.Cli;

/// <summary><c>paged router</c>: the disaggregated-serving front until Ctrl+C or SIGTERM. It loads no model.</summary>
internal static class RouterCommand
{
    public static int Run(RouterVerbOptions o)
    {
        var options = ToRouterOptions(o);
        options.Validate();
        using var stop = new StopSignal();
        return RunAsync(options, stop.Token).GetAwaiter().GetResult();
    }

    internal static RouterOptions ToRouterOptions(RouterVerbOptions o) => new()
    {
        Prefill = [.. o.Prefill.Select(RouterOptions.ParseInstance)],
        Decode = [.. o.Decode.Select(RouterOptions.ParseInstance)],
        Both = [.. o.Both.Select(RouterOptions.ParseInstance)],
        Host = o.Host,
        Port = o.Port,
        ApiKey = ServingConsole.OptionOrEnvironment(o.ApiKey, "PAGED_API_KEY"),
        UpstreamApiKey = ServingConsole.OptionOrEnvironment(o.UpstreamApiKey, "PAGED_UPSTREAM_API_KEY"),
        MaxBodyBytes = EngineFactory.ParseSize(o.MaxBodySize),
        MaxConcurrentRequests = o.MaxConcurrentRequests,
        PrefillTimeout = Seconds(o.PrefillTimeoutSeconds, "--prefill-timeout"),
        PollInterval = Seconds(o.HealthIntervalSeconds, "--health-interval"),
        FailureCooldown = Seconds(o.FailureCooldownSeconds, "--failure-cooldown"),
    };

    private static async Task<int> RunAsync(RouterOptions options, CancellationToken stop)
    {
        var router = await PagedRouter.StartAsync(options, stop).ConfigureAwait(false);
        await using (router.ConfigureAwait(false))
        {
            Console.WriteLine($"paged router: listening on http://{ServingConsole.UrlHost(options.Host)}:{router.Port} (prefill: {options.Prefill.Count}, decode: {options.Decode.Count}, "
                + $"both: {options.Both.Count}" + (options.ApiKey is null ? ")" : ", API key required)"));
            await ServingConsole.WaitForStopAsync(stop).ConfigureAwait(false);

            Console.WriteLine("paged router: shutting down");
        }

        return 0;
    }

    private static TimeSpan Seconds(double seconds, string option) => seconds > 0 && double.IsFinite(seconds)
        ? TimeSpan.FromSeconds(seconds)
        : throw new ArgumentException($"{option} must be a positive number of seconds (got {seconds})");
}
