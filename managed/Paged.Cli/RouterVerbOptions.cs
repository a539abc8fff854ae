using CommandLine;

namespace Paged.Cli;

[Verb("router", HelpText = "Route OpenAI API requests over disaggregated instances: prefill on a --prefill instance, decode on a --decode instance (falls back to --both, else decode alone).")]
public sealed class RouterVerbOptions
{
    [Option("prefill", HelpText = "Prefill instances (paged serve --role prefill), e.g. http://127.0.0.1:8001 (several: separated by spaces).")]
    public IEnumerable<string> Prefill { get; set; } = [];

    [Option("decode", HelpText = "Decode instances (paged serve --role decode).")]
    public IEnumerable<string> Decode { get; set; } = [];

    [Option("both", HelpText = "Colocated instances (paged serve, --role both): used when no prefill instance is healthy.")]
    public IEnumerable<string> Both { get; set; } = [];

    [Option("host", Default = "127.0.0.1", HelpText = "Address to bind (an IP address or localhost; 0.0.0.0 exposes the router to the network).")]
    public string Host { get; set; } = "127.0.0.1";

    [Option("port", Default = 8000, HelpText = "TCP port (0 picks a free one; the bound address is printed).")]
    public int Port { get; set; }

    [Option("api-key", HelpText = "Require 'Authorization: Bearer KEY' on every /v1 route (default: the PAGED_API_KEY environment variable, else none).")]
    public string? ApiKey { get; set; }

    [Option("upstream-api-key", HelpText = "Key the router sends to the instances (default: the PAGED_UPSTREAM_API_KEY environment variable, else none).")]
    public string? UpstreamApiKey { get; set; }

    [Option("max-body-size", Default = "4M", HelpText = "Largest request body (413 beyond), e.g. 4M.")]
    public string MaxBodySize { get; set; } = "4M";

    [Option("max-concurrent-requests", Default = 1024, HelpText = "Requests in flight beyond this get 429 with Retry-After.")]
    public int MaxConcurrentRequests { get; set; }

    [Option("prefill-timeout", Default = 300.0, HelpText = "Seconds a prefill call may take before the instance counts as failed and the next one is tried.")]
    public double PrefillTimeoutSeconds { get; set; }

    [Option("health-interval", Default = 1.0, HelpText = "Seconds between polls of every instance's /health and /metrics.")]
    public double HealthIntervalSeconds { get; set; }

    [Option("failure-cooldown", Default = 5.0, HelpText = "Seconds an instance whose call failed is skipped.")]
    public double FailureCooldownSeconds { get; set; }
}
