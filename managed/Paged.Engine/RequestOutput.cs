namespace Paged.Engine;

/// <summary>
/// A snapshot of one request's progress, produced after every step it took part in. For n > 1 the
/// request has n completions; <see cref="TokenIds"/>, <see cref="Text"/>, <see cref="TextDelta"/> and
/// <see cref="FinishReason"/> are those of the first, and <see cref="Finished"/> means all are done.
/// </summary>
public sealed record RequestOutput
{
    public required long RequestId { get; init; }

    public required string Prompt { get; init; }

    public required IReadOnlyList<int> PromptTokenIds { get; init; }

    /// <summary>Generated token ids so far (a final stop token included) of the first completion.</summary>
    public required IReadOnlyList<int> TokenIds { get; init; }

    /// <summary>Generated text so far (stop token and stop string excluded) of the first completion.</summary>
    public required string Text { get; init; }

    /// <summary>Text added by the step that produced this snapshot (first completion).</summary>
    public required string TextDelta { get; init; }

    public FinishReason FinishReason { get; init; }

    /// <summary>Every completion has finished.</summary>
    public required bool Finished { get; init; }

    /// <summary>All completions (index order); one unless the request asked for n > 1.</summary>
    public required IReadOnlyList<CompletionOutput> Completions { get; init; }

    /// <summary>Prompt tokens whose KV came from the prefix cache.</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>Why the request failed, when <see cref="FinishReason"/> is Error.</summary>
    public string? Error { get; init; }

    /// <summary>Per generated token of the first completion: its logprob and the top-N alternatives (null unless the request asked for logprobs).</summary>
    public IReadOnlyList<TokenLogprobs>? Logprobs { get; init; }

    public required RequestTimings Timings { get; init; }
}

/// <summary>One of a request's n completions.</summary>
public sealed record CompletionOutput(int Index, IReadOnlyList<int> TokenIds, string Text, string TextDelta, FinishReason FinishReason)
{
    public bool Finished => FinishReason != FinishReason.None;
}

/// <summary>Wall-clock milestones of a request, in seconds since it arrived.</summary>
public sealed record RequestTimings(double QueueSeconds, double? FirstTokenSeconds, double? FinishedSeconds, int PreemptionCount)
{
    /// <summary>Mean seconds per generated token after the first (TPOT).</summary>
    public double? TimePerOutputToken(int generated) =>
        generated > 1 && FirstTokenSeconds is double f && FinishedSeconds is double e ? (e - f) / (generated - 1) : null;
}

/// <summary>A token id with its log-probability.</summary>
public readonly record struct LogprobEntry(int TokenId, float Logprob);

/// <summary>One generated token's logprob and the most likely alternatives at its position (descending).</summary>
public sealed record TokenLogprobs(int TokenId, float Logprob, IReadOnlyList<LogprobEntry> Top);
