using Paged.Models.Tokenization;

namespace Paged.Engine;

/// <summary>Where a sequence is in its life.</summary>
public enum SequenceStatus
{
    Waiting,
    Running,
    Finished,
}

/// <summary>
/// One request's token stream and its place in the KV cache: prompt + generated tokens, how many of
/// them already have KV in the cache, and the block table mapping its logical blocks to physical ones.
/// </summary>
public sealed class Sequence
{
    private readonly List<int> _tokens;

    internal Sequence(long id, string prompt, int[] promptIds, SamplingParams sampling, StreamingDetokenizer detokenizer, ulong seed, long arrival)
    {
        Id = id;
        Prompt = prompt;
        PromptTokenIds = promptIds;
        Sampling = sampling;
        Detokenizer = detokenizer;
        Random = new SamplingRandom(seed);
        Seed = seed;
        ArrivalTicks = arrival;
        _tokens = new List<int>(promptIds.Length + Math.Min(sampling.MaxTokens, 4096));
        _tokens.AddRange(promptIds);
    }

    public long Id { get; }

    public string Prompt { get; }

    public IReadOnlyList<int> PromptTokenIds { get; }

    public SamplingParams Sampling { get; }

    public SequenceStatus Status { get; internal set; } = SequenceStatus.Waiting;

    /// <summary>Prompt followed by every generated token.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public int Length => _tokens.Count;

    public int NumGenerated => _tokens.Count - PromptTokenIds.Count;

    /// <summary>Tokens whose keys and values are in the cache.</summary>
    public int NumComputed { get; internal set; }

    /// <summary>Physical KV block of each logical block.</summary>
    public List<int> BlockTable { get; } = [];

    public FinishReason FinishReason { get; internal set; }

    /// <summary>Text generated so far.</summary>
    public string Text { get; internal set; } = "";

    internal StreamingDetokenizer Detokenizer { get; }

    internal SamplingRandom Random { get; }

    /// <summary>Philox key of the sample op: the request's seed, or one drawn by the engine at admission.</summary>
    internal ulong Seed { get; }

    /// <summary>Logprobs of the generated tokens (when the request asked for them).</summary>
    internal List<TokenLogprobs>? Logprobs { get; set; }

    /// <summary>Why sampling failed (the request then finishes with FinishReason.Error).</summary>
    internal string? Error { get; set; }

    internal long ArrivalTicks { get; }

    internal long? ScheduledTicks { get; set; }

    internal long? FirstTokenTicks { get; set; }

    internal long? FinishedTicks { get; set; }

    internal int Preemptions { get; set; }

    internal void Append(int token) => _tokens.Add(token);

    internal List<int> TokenList => _tokens;

    /// <summary>Forget every computed token (preemption by recompute); the tokens themselves stay.</summary>
    internal void ResetComputed() => NumComputed = 0;
}
