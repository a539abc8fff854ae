namespace Paged.Engine;

/// <summary>
/// One request's progress after a step it took part in: both a snapshot (token ids and text so far) and the
/// step's deltas (<see cref="CompletionOutput.TextDelta"/>, <see cref="CompletionOutput.NewTokenIds"/>,
/// <see cref="CompletionOutput.NewLogprobs"/>). Text is what was streamed: the deltas of a completion always
/// concatenate to its <see cref="CompletionOutput.Text"/> (a tail that could begin a stop string is held back
/// until it is known not to). For n > 1 the request has n completions; <see cref="TokenIds"/>, <see cref="Text"/>,
/// <see cref="TextDelta"/> and <see cref="FinishReason"/> are those of the first, and <see cref="Finished"/>
/// means all are done.
/// </summary>
public sealed record RequestOutput
{
    public required long RequestId { get; init; }

    /// <summary>The caller's id (<see cref="GenerationRequest.RequestId"/>), or <see cref="RequestId"/> as text.</summary>
    public string ExternalId { get; init; } = "";

    public required string Prompt { get; init; }

    public required IReadOnlyList<int> PromptTokenIds { get; init; }

    /// <summary>Generated token ids so far (a final stop token included) of the first completion.</summary>
    public required IReadOnlyList<int> TokenIds { get; init; }

    /// <summary>Generated text streamed so far (stop token and stop string excluded) of the first completion.</summary>
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

    /// <summary>
    /// Per prompt token (index = position): its logprob given the tokens before it and the top-N alternatives there;
    /// entry 0 is null (nothing precedes it). Null unless the request asked for <see cref="SamplingParams.PromptLogprobs"/>;
    /// complete once the prompt has been prefilled (from the first output with a generated token).
    /// </summary>
    public IReadOnlyList<TokenLogprobs?>? PromptLogprobs { get; init; }

    /// <summary>The engine's weight version when the request was added (<see cref="LlmEngine.WeightVersion"/>): a trainer drops
    /// rollouts older than its policy. Weights updated while the request ran make its later tokens come from newer weights.</summary>
    public int WeightVersion { get; init; }
}

/// <summary>
/// One of a request's n completions: the snapshot (<see cref="TokenIds"/>, <see cref="Text"/> streamed so far)
/// and the step's deltas (<see cref="TextDelta"/>, <see cref="NewTokenIds"/>, <see cref="NewLogprobs"/>).
/// </summary>
public sealed record CompletionOutput(int Index, IReadOnlyList<int> TokenIds, string Text, string TextDelta, FinishReason FinishReason)
{
    public bool Finished => FinishReason != FinishReason.None;

    /// <summary>Token ids generated since the previous output of this request (a final stop token included).</summary>
    public IReadOnlyList<int> NewTokenIds { get; init; } = [];

    /// <summary>Logprobs of every generated token so far (null unless the request asked for logprobs).</summary>
    public IReadOnlyList<TokenLogprobs>? Logprobs { get; init; }

    /// <summary>Logprobs of <see cref="NewTokenIds"/> (null unless the request asked for logprobs).</summary>
    public IReadOnlyList<TokenLogprobs>? NewLogprobs { get; init; }

    /// <summary>The stop string that ended the completion (vLLM's stop_reason when it is a string).</summary>
    public string? StopString { get; init; }

    /// <summary>The seed of this completion's random stream (the request's seed for index 0, derived for the others by
    /// <see cref="Request.DeriveSeed"/>, or drawn by the engine): a request with <see cref="SamplingParams.Seed"/> set to
    /// it and n = 1 reproduces completion 0's tokens.</summary>
    public ulong Seed { get; init; }

    /// <summary>The requested stop token id that ended the completion (vLLM's stop_reason when it is a number; null for the model's end-of-sequence ids).</summary>
    public int? StopTokenId { get; init; }
}

/// <summary>Wall-clock milestones of a request, in seconds since it arrived.</summary>
/// <param name="QueueSeconds">Arrival to first scheduled (0 until scheduled; see <see cref="Scheduled"/>).</param>
/// <param name="FirstTokenSeconds">Arrival to the first generated token (TTFT).</param>
/// <param name="FinishedSeconds">Arrival to the end (end-to-end latency).</param>
/// <param name="PreemptionCount">Times its sequences were preempted.</param>
public sealed record RequestTimings(double QueueSeconds, double? FirstTokenSeconds, double? FinishedSeconds, int PreemptionCount)
{
    /// <summary>When the request arrived (UTC).</summary>
    public DateTimeOffset ArrivalTime { get; init; }

    /// <summary>The request has been scheduled at least once (<see cref="QueueSeconds"/> is then meaningful).</summary>
    public bool Scheduled { get; init; }

    /// <summary>First scheduled to first token: the prefill.</summary>
    public double? PrefillSeconds => Scheduled && FirstTokenSeconds is double f ? f - QueueSeconds : null;

    /// <summary>First token to the end: the decode.</summary>
    public double? DecodeSeconds => FirstTokenSeconds is double f && FinishedSeconds is double e ? e - f : null;

    /// <summary>Mean seconds per generated token after the first (TPOT).</summary>
    public double? TimePerOutputToken(int generated) =>
        generated > 1 && FirstTokenSeconds is double f && FinishedSeconds is double e ? (e - f) / (generated - 1) : null;
}

/// <summary>A token id with its log-probability (the alternatives of <see cref="TokenLogprobs.Top"/>: entry i has rank i + 1).</summary>
public readonly record struct LogprobEntry(int TokenId, float Logprob);

/// <summary>
/// One generated (or prompt) token's logprob and the most likely alternatives at its position (descending), with
/// vLLM's <see cref="Rank"/> of the token.
/// </summary>
public sealed record TokenLogprobs(int TokenId, float Logprob, IReadOnlyList<LogprobEntry> Top)
{
    /// <summary>
    /// The token's rank among the vocabulary (vLLM's Logprob.rank): 1 + the number of tokens with a strictly larger
    /// logprob in the same distribution (1: the most likely; ties share a rank). Computed with the logprobs: on the
    /// device in the sample op for generated tokens, from the row already read back for prompt tokens.
    /// </summary>
    public int Rank { get; init; }
}
