namespace Paged.Engine;

/// <summary>
/// One submitted prompt: its sampling parameters, scheduling attributes (priority, tenant) and its
/// <see cref="SamplingParams.N"/> sequences (one per completion). Sequence 0 prefills the prompt; the
/// others are forked from it when the prompt's first token is sampled and share its KV blocks.
/// </summary>
public sealed class Request
{
    internal Request(long id, string prompt, int[] promptTokenIds, SamplingParams sampling, long arrivalTicks, int priority = 0, string tenant = "", ulong extraKey = 0)
    {
        Id = id;
        Prompt = prompt;
        PromptTokenIds = promptTokenIds;
        Sampling = sampling;
        ArrivalTicks = arrivalTicks;
        Priority = priority;
        Tenant = tenant;
        ExtraKey = extraKey;
    }

    public long Id { get; }

    public string Prompt { get; }

    public IReadOnlyList<int> PromptTokenIds { get; }

    public SamplingParams Sampling { get; }

    /// <summary>Lower values are served first by the priority policy.</summary>
    public int Priority { get; }

    /// <summary>Who the request is charged to by the fair policy.</summary>
    public string Tenant { get; }

    /// <summary>Anything besides the tokens that changes the KV (an adapter id); part of every prefix-cache key.</summary>
    public ulong ExtraKey { get; }

    /// <summary>The LoRA adapter the request runs under, or null (the base model).</summary>
    public Paged.Models.Lora.LoraAdapter? Adapter { get; init; }

    /// <summary>The request's sequences, one per completion (index = completion index).</summary>
    public IReadOnlyList<Sequence> Sequences => _sequences;

    internal Sequence[] _sequences = [];

    /// <summary>The caller's id for the request (<see cref="GenerationRequest.RequestId"/>), or null.</summary>
    public string? ExternalId { get; init; }

    /// <summary>Wall-clock time the request arrived (validation time).</summary>
    public DateTimeOffset ArrivalTime { get; init; }

    internal long ArrivalTicks { get; }

    internal long? ScheduledTicks { get; set; }

    internal long? FirstTokenTicks { get; set; }

    internal long? FinishedTicks { get; set; }

    /// <summary>Keep the prompt's KV blocks pinned when the request finishes, for another engine to pull (a prefill instance).</summary>
    internal bool HoldKv { get; init; }

    /// <summary>The prompt's KV received from a prefill instance, loaded instead of computed (cleared once loaded).</summary>
    internal KvTransfer.KvImport? KvImport { get; set; }

    /// <summary>Prompt tokens found in the prefix cache when the request was first admitted.</summary>
    public int CachedPromptTokens { get; internal set; }

    /// <summary>The engine's weight version when the request was added (<see cref="LlmEngine.WeightVersion"/>); part of its prefix-cache keys.</summary>
    public int WeightVersion { get; internal set; }

    /// <summary>Per prompt position: that token's logprob given the tokens before it (entry 0 stays null); null unless asked for.</summary>
    internal TokenLogprobs?[]? PromptLogprobs { get; set; }

    /// <summary>What the prefix cache keys this request's blocks with: <see cref="ExtraKey"/> mixed with the weight version,
    /// so blocks computed under other weights are never shared.</summary>
    internal ulong CacheKey => WeightVersion == 0 ? ExtraKey : ExtraKey ^ Request.DeriveSeed(0x5745494748545356UL, WeightVersion);

    public bool IsFinished => Array.TrueForAll(_sequences, s => s.Status == SequenceStatus.Finished);

    /// <summary>Builds the sequences: completion i samples with a seed derived from the request seed.</summary>
    internal void CreateSequences(ulong seed, ref long nextSeqId)
    {
        int n = Sampling.N;
        _sequences = new Sequence[n];
        for (int i = 0; i < n; i++)
            _sequences[i] = new Sequence(this, i, nextSeqId++, DeriveSeed(seed, i));
        for (int i = 1; i < n; i++)
        {
            _sequences[i].Status = SequenceStatus.AwaitingFork;
            _sequences[0].PendingForks.Add(_sequences[i]);
        }
    }

    /// <summary>Seed of completion <paramref name="index"/>: the request seed itself for 0, a SplitMix64 step away for the others.</summary>
    public static ulong DeriveSeed(ulong seed, int index)
    {
        if (index == 0)
            return seed;
        ulong z = seed + ((ulong)index * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
