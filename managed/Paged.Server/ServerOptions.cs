namespace Paged.Server;

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
    }
}
