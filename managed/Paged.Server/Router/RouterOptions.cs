namespace Paged.Server.Router;

/// <summary>How <c>paged router</c> listens, which instances it routes to, and its timeouts; the CLI's router options map onto these.</summary>
public sealed record RouterOptions
{
    /// <summary>Instances started with <c>--role prefill</c>: they compute prompts and hand their KV blocks over.</summary>
    public IReadOnlyList<Uri> Prefill { get; init; } = [];

    /// <summary>Instances started with <c>--role decode</c>: they pull a prefilled prompt's blocks and generate.</summary>
    public IReadOnlyList<Uri> Decode { get; init; } = [];

    /// <summary>Colocated instances (<c>--role both</c>, plain <c>paged serve</c>): the fallback when no prefill instance is healthy.</summary>
    public IReadOnlyList<Uri> Both { get; init; } = [];

    /// <summary>Address to bind (loopback by default: exposing the router is an explicit choice).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="PagedRouter.Port"/>).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>When set, every /v1 route requires "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }

    /// <summary>Sent as "Authorization: Bearer KEY" to the instances, when they require one.</summary>
    public string? UpstreamApiKey { get; init; }

    /// <summary>Largest request body in bytes (413 beyond).</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>Requests in flight beyond this are refused with 429 and Retry-After.</summary>
    public int MaxConcurrentRequests { get; init; } = 1024;

    /// <summary>A prefill call that has not answered after this long counts as a failed instance (the next one is tried).</summary>
    public TimeSpan PrefillTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Time allowed to open a TCP connection to an instance.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often every instance's /health and /metrics are read; <see cref="Timeout.InfiniteTimeSpan"/>: only once, at start (tests poll by hand).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Time allowed for one /health or /metrics read.</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>An instance whose call failed is skipped this long (then the poller's view of it counts again).</summary>
    public TimeSpan FailureCooldown { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Seconds clients are told to wait (Retry-After) when the router is full or no instance can answer.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    public void Validate()
    {
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"port must be in 0..65535 (got {Port})");
        if (Decode.Count == 0 && Both.Count == 0)
            throw new ArgumentException("the router needs at least one --decode or --both instance (prefill instances alone cannot generate)");
        foreach (var uri in Prefill.Concat(Decode).Concat(Both))
        {
            if (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw new ArgumentException($"instance URL '{uri}' must be an absolute http:// or https:// URL");
        }

        var all = Prefill.Concat(Decode).Concat(Both).Select(u => u.AbsoluteUri).ToList();
        if (all.Distinct(StringComparer.Ordinal).Count() != all.Count)
            throw new ArgumentException("an instance URL is listed twice (each instance has one role)");
        if (MaxBodyBytes < 1024)
            throw new ArgumentException($"the body size limit must be at least 1024 bytes (got {MaxBodyBytes})");
        if (MaxConcurrentRequests < 1)
            throw new ArgumentException($"the concurrent request limit must be at least 1 (got {MaxConcurrentRequests})");
        if (PrefillTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || PollTimeout <= TimeSpan.Zero || FailureCooldown < TimeSpan.Zero)
            throw new ArgumentException("the router's timeouts must be positive");
        if (PollInterval <= TimeSpan.Zero && PollInterval != Timeout.InfiniteTimeSpan)
            throw new ArgumentException("the health poll interval must be positive");
    }

    /// <summary>Parses an instance URL given on the command line (a bare host:port means http://host:port).</summary>
    public static Uri ParseInstance(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string withScheme = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"'{text}' is not an instance URL (expected e.g. http://127.0.0.1:8001)");
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0)
            throw new ArgumentException($"instance URL '{text}' must be the server's root (the router adds /v1/..., /health and /metrics)");
        return uri;
    }
}
