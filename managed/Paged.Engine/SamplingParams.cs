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
        if (MaxTokens < 1)
            throw new ArgumentException($"max_tokens must be at least 1 (got {MaxTokens})");
        foreach (string s in Stop)
        {
            if (string.IsNullOrEmpty(s))
                throw new ArgumentException("stop strings must not be empty");
        }
    }

    public bool IsGreedy => Temperature == 0 || TopK == 1;
}
