using CommandLine;

namespace Paged.Cli.ServeBench;

/// <summary>Options of <c>paged bench serve</c> (parsed as the verb <c>bench-serve</c>; see <see cref="Cli"/>).</summary>
[Verb("bench-serve", HelpText = "Drive a running OpenAI-compatible server over HTTP (also 'paged bench serve'): TTFT, TPOT, ITL, throughput, goodput.")]
public sealed class BenchServeOptions
{
    [Option("base-url", Default = "http://127.0.0.1:8000", HelpText = "Server address.")]
    public string BaseUrl { get; set; } = "http://127.0.0.1:8000";

    [Option("endpoint", Default = "/v1/completions", HelpText = "Completions endpoint (token-id prompts).")]
    public string Endpoint { get; set; } = "/v1/completions";

    [Option("model", HelpText = "Model name sent with each request (default: the first of GET /v1/models).")]
    public string? Model { get; set; }

    [Option("api-key", HelpText = "Bearer token (default: the PAGED_API_KEY environment variable).")]
    public string? ApiKey { get; set; }

    [Option("dataset", Default = "random", HelpText = "random, or sharegpt (with --dataset-path).")]
    public string Dataset { get; set; } = "random";

    [Option("dataset-path", HelpText = "ShareGPT-format JSON file (a list of {\"conversations\": [{\"from\", \"value\"}, ...]}).")]
    public string? DatasetPath { get; set; }

    [Option("num-prompts", Default = 200, HelpText = "Requests per request rate.")]
    public int NumPrompts { get; set; }

    [Option("random-input-len", Default = 128, HelpText = "random: mean prompt length in tokens.")]
    public int RandomInputLen { get; set; }

    [Option("random-output-len", Default = 128, HelpText = "random: mean output length in tokens (exact: EOS is ignored).")]
    public int RandomOutputLen { get; set; }

    [Option("random-range-ratio", Default = 0.0, HelpText = "random: lengths uniform in [len*(1-r), len*(1+r)], r in [0, 1).")]
    public double RandomRangeRatio { get; set; }

    [Option("random-prefix-len", Default = 0, HelpText = "random: tokens of one shared prefix prepended to every prompt.")]
    public int RandomPrefixLen { get; set; }

    [Option("random-token-range", Default = "3:259", HelpText = "random: token ids drawn uniformly from LO:HI (HI exclusive); must lie inside the model's vocabulary.")]
    public string RandomTokenRange { get; set; } = "3:259";

    [Option("sharegpt-output-len", Default = 0, HelpText = "sharegpt: output tokens per request (0 = the reply's length in characters / 4, at least 4).")]
    public int ShareGptOutputLen { get; set; }

    [Option("request-rate", Default = "inf", HelpText = "Requests per second; a comma-separated list runs a sweep (e.g. 1,2,4,8,inf).")]
    public string RequestRate { get; set; } = "inf";

    [Option("burstiness", Default = 1.0, HelpText = "Gamma shape of the inter-arrival times: 1 = Poisson, < 1 burstier, > 1 more uniform.")]
    public double Burstiness { get; set; }

    [Option("max-concurrency", Default = 0, HelpText = "Most requests in flight at once (0 = unlimited).")]
    public int MaxConcurrency { get; set; }

    [Option("goodput", HelpText = "Service-level objectives in ms, e.g. --goodput ttft:500 tpot:50 (also e2el); goodput counts requests meeting all.")]
    public IEnumerable<string> Goodput { get; set; } = [];

    [Option("tenants", HelpText = "Send each request as one of these users (tenants), drawn by weight, e.g. heavy:9,light:1; results are also reported per tenant.")]
    public string? Tenants { get; set; }

    [Option("seed", Default = 0UL, HelpText = "Seed of the dataset and the arrival times.")]
    public ulong Seed { get; set; }

    [Option("timeout", Default = 600.0, HelpText = "Seconds one request may take before it counts as failed.")]
    public double TimeoutSeconds { get; set; }

    [Option("result-file", HelpText = "Write the results (every request rate) as JSON here.")]
    public string? ResultFile { get; set; }

    [Option("disagg-prefill", HelpText = "Disaggregated serving without a router: send each request's prefill step to this prefill instance, then its decode step to --disagg-decode (or --base-url).")]
    public string? DisaggPrefill { get; set; }

    [Option("disagg-decode", HelpText = "The decode instance of --disagg-prefill (default: --base-url).")]
    public string? DisaggDecode { get; set; }

    [Option("long-fraction", Default = 0.0, HelpText = "random: this fraction of the requests (every k-th, evenly spread) gets --long-input-len prompt tokens instead (a mix of long prompts and short chats).")]
    public double LongFraction { get; set; }

    [Option("long-input-len", Default = 2000, HelpText = "random: prompt tokens of the long requests of --long-fraction.")]
    public int LongInputLen { get; set; }

    [Option("plot", HelpText = "Draw latency percentiles against request rate into this PNG (most useful with a sweep).")]
    public string? Plot { get; set; }
}
