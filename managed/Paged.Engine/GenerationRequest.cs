namespace Paged.Engine;

/// <summary>
/// One request to the engine: a prompt as text or as token ids (ids win when both are given; the text is then
/// only reported back), how to sample, scheduling attributes, and an optional id of the caller's.
/// </summary>
public sealed record GenerationRequest
{
    /// <summary>Prompt text, tokenized with BOS.</summary>
    public string? Prompt { get; init; }

    /// <summary>An already tokenized prompt (used as is).</summary>
    public IReadOnlyList<int>? PromptTokenIds { get; init; }

    public SamplingParams Sampling { get; init; } = new();

    public RequestAttributes Attributes { get; init; } = new();

    /// <summary>The caller's id for the request (unique among its live requests in <see cref="AsyncEngine"/>); reported in <see cref="RequestOutput.ExternalId"/>.</summary>
    public string? RequestId { get; init; }

    /// <summary>Disaggregated prefill: stop after the first token and keep the prompt's KV blocks pinned under a lease (see <see cref="KvTransfer.KvTransferConnector"/>).</summary>
    public bool HoldKv { get; init; }

    /// <summary>Disaggregated decode: the prompt's KV and first token from a prefill instance, loaded instead of computing the prompt.</summary>
    public KvTransfer.KvImport? KvImport { get; init; }

    /// <summary>Name of a loaded LoRA adapter to run the request under (null: the base model).</summary>
    public string? Lora { get; init; }
}
