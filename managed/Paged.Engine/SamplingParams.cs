namespace Paged.Engine;

/// <summary>
/// How tokens are chosen for one request. Validated by <see cref="Validate"/> before a request enters
/// the engine, so an impossible parameter never reaches the model.
/// </summary>
public sealed record SamplingParams
{
    /// <summary>0 means greedy (argmax, ties to the lowest token id).</summary>
    public float Temperature { get; init; }

    /// <summary>Keep the K most likely tokens; 0 or -1 disables.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of tokens whose probability reaches P; 1 disables.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Keep tokens whose probability is at least MinP times the most likely one's; 0 disables.</summary>
    public float MinP { get; init; }

    /// <summary>Divides positive (multiplies non-positive) logits of tokens in the prompt or the output; 1 disables.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>Subtracted from a token's logit once per occurrence in the output; in [-2, 2], 0 disables.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Subtracted from a token's logit if it occurs in the output at all; in [-2, 2], 0 disables.</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Added to the logits of the given token ids (each bias in [-100, 100]).</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>End-of-sequence and stop token ids are masked until this many tokens were generated.</summary>
    public int MinTokens { get; init; }

    /// <summary>Return the chosen token's logprob and this many most likely alternatives (0..20) per token; null = no logprobs.</summary>
    public int? Logprobs { get; init; }

    /// <summary>
    /// Return the logprob of every prompt token after the first (given the tokens before it) and this many most
    /// likely alternatives (0..20) at each position; null = none. Requests that ask for them skip the prefix cache
    /// (a cached prefix has no logits), as vLLM does.
    /// </summary>
    public int? PromptLogprobs { get; init; }

    /// <summary>Logprobs of the processed distribution (after penalties, temperature and filters) instead of the raw model distribution.</summary>
    public bool ProcessedLogprobs { get; init; }

    /// <summary>Seed of this request's random stream; null draws from the engine's generator.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Completions to generate for the prompt (parallel sampling; the prompt is prefilled once).</summary>
    public int N { get; init; } = 1;

    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Extra token ids that end generation (the model's own end ids always do).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep generating past the model's end-of-sequence ids (benchmarks).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Strings that end generation; the text is cut before the first occurrence.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first impossible parameter.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0)
            throw new ArgumentException($"temperature must be a finite number >= 0 (got {Temperature})");
        if (TopK < -1)
            throw new ArgumentException($"top_k must be -1, 0 (disabled) or a positive count (got {TopK})");
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentException($"top_p must be in (0, 1] (got {TopP})");
        if (N is < 1 or > 1024)
            throw new ArgumentException($"n must be in 1..1024 (got {N})");
        if (!(MinP >= 0 && MinP <= 1))
            throw new ArgumentException($"min_p must be in [0, 1] (got {MinP})");
        if (!float.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0)
            throw new ArgumentException($"repetition_penalty must be a finite number > 0 (got {RepetitionPenalty})");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
            throw new ArgumentException($"frequency_penalty must be in [-2, 2] (got {FrequencyPenalty})");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
            throw new ArgumentException($"presence_penalty must be in [-2, 2] (got {PresencePenalty})");
        if (MaxTokens < 1)
            throw new ArgumentException($"max_tokens must be at least 1 (got {MaxTokens})");
        if (MinTokens < 0 || MinTokens > MaxTokens)
            throw new ArgumentException($"min_tokens must be in [0, max_tokens = {MaxTokens}] (got {MinTokens})");
        if (Logprobs is int n && (n < 0 || n > MaxLogprobs))
            throw new ArgumentException($"logprobs must be in [0, {MaxLogprobs}] (got {n})");
        if (PromptLogprobs is int pn && (pn < 0 || pn > MaxLogprobs))
            throw new ArgumentException($"prompt_logprobs must be in [0, {MaxLogprobs}] (got {pn})");
        if (LogitBias is not null)
        {
            foreach (var (id, bias) in LogitBias)
            {
                if (id < 0)
                    throw new ArgumentException($"logit_bias token id {id} must be >= 0");
                if (!(bias >= -100 && bias <= 100))
                    throw new ArgumentException($"logit_bias for token {id} must be in [-100, 100] (got {bias})");
            }
        }

        foreach (int id in StopTokenIds)
        {
            if (id < 0)
                throw new ArgumentException($"stop_token_ids must be >= 0 (got {id})");
        }
        foreach (string s in Stop)
        {
            if (string.IsNullOrEmpty(s))
                throw new ArgumentException("stop strings must not be empty");
        }
    }

    /// <summary>Most top-N logprobs per token.</summary>
    public const int MaxLogprobs = 20;

    public bool IsGreedy => Temperature == 0 || TopK == 1;

    /// <summary>Checks the token ids this request names against the model's vocabulary.</summary>
    public void ValidateForVocabulary(int vocabSize)
    {
        if (LogitBias is not null)
        {
            foreach (int id in LogitBias.Keys)
            {
                if (id >= vocabSize)
                    throw new ArgumentException($"logit_bias token id {id} is outside the vocabulary (0..{vocabSize - 1})");
            }
        }

        foreach (int id in StopTokenIds)
        {
            if (id >= vocabSize)
                throw new ArgumentException($"stop_token_ids entry {id} is outside the vocabulary (0..{vocabSize - 1})");
        }
    }
}
