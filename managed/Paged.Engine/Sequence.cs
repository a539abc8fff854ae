namespace Paged.Engine;

/// <summary>Where a sequence is in its life.</summary>
public enum SequenceStatus
{
    Waiting,
    Running,

    /// <summary>Preempted by swap: its KV lives in host memory until it is swapped back in.</summary>
    Swapped,

    /// <summary>A sibling (n > 1) that is created by forking sequence 0 once the prompt is prefilled.</summary>
    AwaitingFork,
    Finished,
}

/// <summary>
/// One completion's token stream and its place in the KV cache: prompt + generated tokens, how many of
/// them already have KV in the cache, the block table mapping its logical blocks to physical ones, and
/// its own random generator (which survives preemption, so a resumed sequence draws what it would have).
/// </summary>
public sealed class Sequence
{
    private readonly List<int> _tokens;

    internal Sequence(Request request, int index, long id, ulong seed)
    {
        Request = request;
        Index = index;
        Id = id;
        Random = new SamplingRandom(seed);
        Seed = seed;
        int capacity = request.PromptTokenIds.Count + Math.Min(request.Sampling.MaxTokens, 4096);
        _tokens = new List<int>(capacity);
        _tokens.AddRange(request.PromptTokenIds);
        BlockTable = new List<int>(Math.Min(capacity, 65536) / 8);
        BlockKeys = new List<UInt128>(Math.Min(capacity, 65536) / 8);
    }

    /// <summary>Unique over the engine's life (not the request id).</summary>
    public long Id { get; }

    public Request Request { get; }

    /// <summary>Completion index within the request.</summary>
    public int Index { get; }

    public long RequestId => Request.Id;

    public string Prompt => Request.Prompt;

    public IReadOnlyList<int> PromptTokenIds => Request.PromptTokenIds;

    public SamplingParams Sampling => Request.Sampling;

    public SequenceStatus Status { get; internal set; } = SequenceStatus.Waiting;

    /// <summary>Prompt followed by every generated token.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public int Length => _tokens.Count;

    public int NumGenerated => _tokens.Count - PromptTokenIds.Count;

    /// <summary>Tokens whose keys and values are in the cache.</summary>
    public int NumComputed { get; internal set; }

    /// <summary>Physical KV block of each logical block.</summary>
    public List<int> BlockTable { get; }

    /// <summary>Prefix-cache keys of the sequence's first full blocks (a chain: each includes its parent's).</summary>
    internal List<UInt128> BlockKeys { get; }

    /// <summary>Host swap slots holding the blocks of a swapped-out sequence, in block-table order.</summary>
    internal List<int> HostBlocks { get; } = [];

    /// <summary>Siblings to fork from this sequence when its prompt's first token is sampled.</summary>
    internal List<Sequence> PendingForks { get; } = [];

    public FinishReason FinishReason { get; internal set; }

    /// <summary>The stop string that ended the sequence (vLLM's stop_reason), when one did.</summary>
    public string? StopString { get; internal set; }

    /// <summary>The requested stop token id (<see cref="SamplingParams.StopTokenIds"/>) that ended the sequence; null for the model's own end ids.</summary>
    public int? StopTokenId { get; internal set; }

    internal SamplingRandom Random { get; }

    public int Preemptions { get; internal set; }

    /// <summary>Philox key of the sample op: this completion's seed (the request's, derived for n > 1, or drawn by the engine).</summary>
    internal ulong Seed { get; }

    /// <summary>Logprobs of the generated tokens (when the request asked for them).</summary>
    internal List<TokenLogprobs>? Logprobs { get; set; }

    /// <summary>Why sampling failed (the request then finishes with FinishReason.Error).</summary>
    internal string? Error { get; set; }

    /// <summary>Prompt tokens already charged to the tenant (fair policy): recomputation is not charged twice.</summary>
    internal int ChargedPromptTokens { get; set; }

    internal void Append(int token) => _tokens.Add(token);

    internal List<int> TokenList => _tokens;

    /// <summary>Starts the sequence over from its prompt (benchmarks reuse sequences to stay allocation-free).</summary>
    internal void ResetForReuse(int blockSize)
    {
        _tokens.RemoveRange(PromptTokenIds.Count, _tokens.Count - PromptTokenIds.Count);
        int keep = PromptTokenIds.Count / blockSize;
        if (BlockKeys.Count > keep)
            BlockKeys.RemoveRange(keep, BlockKeys.Count - keep);
        Preemptions = 0;
        ChargedPromptTokens = 0;
        NumComputed = 0;
        FinishReason = FinishReason.None;
        Status = SequenceStatus.Waiting;
    }
}
