namespace Paged.Server;

/// <summary>The part an instance plays in disaggregated serving.</summary>
public enum ServeRole
{
    /// <summary>Prefill and decode in one instance (colocated; accepts transfer requests of both kinds when it has a KV transfer port).</summary>
    Both,

    /// <summary>Computes prompts and first tokens and holds their KV for decode instances to pull (still serves ordinary requests).</summary>
    Prefill,

    /// <summary>Continues requests from KV pulled from a prefill instance (still serves ordinary requests, computing their prompts).</summary>
    Decode,
}

/// <summary>What a decode instance does when the KV pull fails (vLLM's kv_load_failure_policy).</summary>
public enum KvLoadFailurePolicy
{
    /// <summary>Compute the prompt locally: the answer stays correct, only slower.</summary>
    Recompute,

    /// <summary>Answer the request with an error (502).</summary>
    Fail,
}

/// <summary>How <c>paged serve</c> listens and what it accepts; the CLI's serve options map onto these.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind (loopback by default: exposing the server is an explicit choice).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (read it back from <see cref="PagedServer.Port"/>).</summary>
    public int Port { get; init; } = 8000;

    /// <summary>When set, every /v1 route requires "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }

    /// <summary>The model name clients pass and /v1/models lists.</summary>
    public string ServedModelName { get; init; } = "paged";

    /// <summary>Largest request body in bytes (413 beyond).</summary>
    public long MaxBodyBytes { get; init; } = 4 << 20;

    /// <summary>Largest n (completions per prompt) a request may ask for.</summary>
    public int MaxN { get; init; } = 16;

    /// <summary>Largest max_tokens a request may ask for; also the default when a request names none (capped by the context).</summary>
    public int MaxTokensCap { get; init; } = 4096;

    /// <summary>Most prompts in one /v1/completions request.</summary>
    public int MaxPromptsPerRequest { get; init; } = 64;

    /// <summary>A request still running after this long is cancelled (its blocks freed) and answered with an error.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Seconds clients are told to wait (Retry-After) when the admission queue is full.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>Disaggregated serving: what this instance does (docs/disaggregation.md).</summary>
    public ServeRole Role { get; init; } = ServeRole.Both;

    /// <summary>Port of the gRPC listener decode instances pull KV blocks from (same host as the HTTP API); 0 picks a free one; null: none (default for decode and both).</summary>
    public int? KvTransferPort { get; init; }

    /// <summary>What a decode instance does when a KV pull fails: recompute the prompt locally, or fail the request.</summary>
    public KvLoadFailurePolicy KvLoadFailurePolicy { get; init; } = KvLoadFailurePolicy.Recompute;

    /// <summary>Longest a KV pull may take before it counts as failed.</summary>
    public TimeSpan KvTransferTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The gRPC listener's port, if this instance has one: prefill instances always (a free port unless given).</summary>
    internal int? EffectiveKvTransferPort => KvTransferPort ?? (Role == ServeRole.Prefill ? 0 : null);

    /// <summary>Serve the web console at GET / (<c>--no-ui</c> turns it off).</summary>
    public bool EnableConsole { get; init; } = true;

    /// <summary>How many finished requests /v1/status lists (the newest; 0 keeps none).</summary>
    public int RecentRequests { get; init; } = 100;

    /// <summary>Accept POST /v1/update_weights (off by default: a caller could change the model's behaviour).</summary>
    public bool AllowWeightUpdates { get; init; }

    /// <summary>How chat output is read for tool calls (<c>--tool-call-parser</c>); None refuses tool_choice other than "none".</summary>
    public Tools.ToolCallFormat ToolCallParser { get; init; } = Tools.ToolCallFormat.None;

    /// <summary>Serve POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM: VLLM_ALLOW_RUNTIME_LORA_UPDATING).</summary>
    public bool AllowRuntimeLora { get; init; }

    /// <summary>How long an unload waits for the adapter's running requests before ending them.</summary>
    public TimeSpan LoraUnloadTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        if (Port is < 0 or > 65535)
            throw new ArgumentException($"port must be in 0..65535 (got {Port})");
        if (string.IsNullOrWhiteSpace(ServedModelName))
            throw new ArgumentException("the served model name must not be empty");
        if (MaxBodyBytes < 1024)
            throw new ArgumentException($"the body size limit must be at least 1024 bytes (got {MaxBodyBytes})");
        if (MaxN < 1 || MaxTokensCap < 1 || MaxPromptsPerRequest < 1)
            throw new ArgumentException("the n, max_tokens and prompt-count caps must be at least 1");
        if (RequestTimeout <= TimeSpan.Zero)
            throw new ArgumentException("the request timeout must be positive");
        if (KvTransferPort is < 0 or > 65535)
            throw new ArgumentException($"the KV transfer port must be in 0..65535 (got {KvTransferPort})");
        if (KvTransferPort is not null && Role == ServeRole.Decode)
            throw new ArgumentException("--kv-transfer-port serves prefills for transfer: it needs --role prefill or both");
        if (KvTransferTimeout <= TimeSpan.Zero)
            throw new ArgumentException("the KV transfer timeout must be positive");
        if (RecentRequests is < 0 or > 100_000)
            throw new ArgumentException($"the number of recent requests kept must be in 0..100000 (got {RecentRequests})");
    }
}
