namespace Paged.Engine;

/// <summary>Engine-wide settings; the CLI's options map onto these one to one.</summary>
public sealed record EngineOptions
{
    /// <summary>Backend library name: cpu, cuda or simt (the CUDA kernels under the CPU emulator).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Worker threads of the CPU backend; 0 = all cores.</summary>
    public int NumThreads { get; init; }

    /// <summary>Tokens per KV block.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>KV blocks in the pool; 0 = derive from <see cref="KvMemoryBytes"/> or the default.</summary>
    public int NumKvBlocks { get; init; }

    /// <summary>Bytes of KV cache; 0 = enough for every running sequence at full context (capped at 4 GiB).</summary>
    public long KvMemoryBytes { get; init; }

    /// <summary>Most sequences running at once (the batch).</summary>
    public int MaxNumSeqs { get; init; } = 64;

    /// <summary>Most tokens in one forward pass; longer prompts are prefilled in chunks.</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Reuse the KV of cached full prompt blocks across requests.</summary>
    public bool PrefixCaching { get; init; } = true;

    /// <summary>Split long prompts into chunks that share steps with decodes; off = a prompt is prefilled whole (unless it is longer than the token budget).</summary>
    public bool ChunkedPrefill { get; init; } = true;

    /// <summary>What happens to a running sequence when KV blocks run out.</summary>
    public PreemptionMode Preemption { get; init; } = PreemptionMode.Recompute;

    /// <summary>Host memory for swapped-out KV blocks (swap preemption); 0 = 256 MiB when swapping, none otherwise.</summary>
    public long SwapSpaceBytes { get; init; }

    /// <summary>Which waiting request is admitted next and which running one is preempted.</summary>
    public SchedulingPolicy Policy { get; init; } = SchedulingPolicy.Fcfs;

    /// <summary>Virtual-token-counter weights of the fair policy.</summary>
    public FairShareOptions FairShare { get; init; } = new();

    /// <summary>Seed of the engine's generator for requests without a seed of their own.</summary>
    public ulong Seed { get; init; }

    /// <summary>How long a finished prefill held for transfer keeps its blocks pinned when nobody acknowledges its pull.</summary>
    public TimeSpan KvLease { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Every query token runs through the same attention kernel (the prefill one), so a token's logprobs never depend
    /// on whether its step also carried prefill chunks or after a recompute (docs/rollouts.md). The cpu backend is batch
    /// invariant either way (one attention code path); on simt and cuda this gives up the decode kernel, and every
    /// matmul runs the fixed-order SIMT GEMM instead of cuBLAS.
    /// </summary>
    public bool BatchInvariant { get; init; }

    /// <summary>Element type of the KV cache (a half type doubles the blocks a memory budget holds).</summary>
    public KvCacheDType KvCacheDType { get; init; } = KvCacheDType.Auto;

    /// <summary>LoRA adapters resident in device slots at once; 0 (default): no LoRA support.</summary>
    public int MaxLoras { get; init; }

    /// <summary>Largest LoRA rank an adapter may have (slot size).</summary>
    public int MaxLoraRank { get; init; } = 16;

    /// <summary>Decode steps through captured graphs per batch-size bucket (<see cref="CudaGraphModes"/>: auto = on for cuda).</summary>
    public CudaGraphMode CudaGraphs { get; init; } = CudaGraphMode.Auto;

    /// <summary>Element type of the adapter slots: auto (bf16 with half base weights, else f32), f32 or bf16.</summary>
    public Paged.Models.Lora.LoraDType LoraDType { get; init; }

    public void Validate()
    {
        if (KvLease <= TimeSpan.Zero)
            throw new ArgumentException($"the KV lease must be positive (got {KvLease.TotalSeconds} s)");
        if (BlockSize is < 1 or > 1024)
            throw new ArgumentException($"block size must be in 1..1024 (got {BlockSize})");
        if (MaxNumSeqs < 1)
            throw new ArgumentException($"max batch (max_num_seqs) must be at least 1 (got {MaxNumSeqs})");
        if (MaxNumBatchedTokens < 1)
            throw new ArgumentException($"max_num_batched_tokens must be at least 1 (got {MaxNumBatchedTokens})");
        if (NumKvBlocks < 0 || KvMemoryBytes < 0)
            throw new ArgumentException("KV cache size must not be negative");
        if (SwapSpaceBytes < 0)
            throw new ArgumentException($"swap space must not be negative (got {SwapSpaceBytes})");
        if (!(FairShare.InputWeight >= 0 && FairShare.OutputWeight >= 0 && FairShare.InputWeight + FairShare.OutputWeight > 0))
            throw new ArgumentException("fair-share token weights must be >= 0 and not both 0");
        if (FairShare.TenantWeights is { } tw && tw.Values.Any(w => !(w > 0) || double.IsInfinity(w)))
            throw new ArgumentException("tenant weights must be positive finite numbers");
        if (!Enum.IsDefined(KvCacheDType))
            throw new ArgumentException($"unknown KV cache dtype {(int)KvCacheDType} (auto, f32, bf16, f16)");
        if (MaxLoras is < 0 or > 256)
            throw new ArgumentException($"max LoRAs must be in 0..256 (got {MaxLoras})");
        if (MaxLoraRank is < 1 or > 512)
            throw new ArgumentException($"max LoRA rank must be in 1..512 (got {MaxLoraRank})");
        if (!Enum.IsDefined(CudaGraphs))
            throw new ArgumentException($"unknown CUDA graph mode {(int)CudaGraphs} (auto, on, off)");
        if (NumThreads < 0)
            throw new ArgumentException($"threads must be >= 0 (got {NumThreads})");
    }
}

/// <summary>How a running sequence gives up its KV blocks when the pool runs out.</summary>
public enum PreemptionMode
{
    /// <summary>Free its blocks and requeue it at the front; its tokens are computed again later (prefix cache hits make that cheaper).</summary>
    Recompute,

    /// <summary>Copy its blocks to host memory and back when there is room (falls back to recompute when the swap space is full).</summary>
    Swap,
}

/// <summary>Admission and preemption order.</summary>
public enum SchedulingPolicy
{
    /// <summary>Arrival order; the most recently admitted running sequence is preempted first.</summary>
    Fcfs,

    /// <summary>Lower priority value first (then arrival); a waiting request may preempt running work of a lower priority.</summary>
    Priority,

    /// <summary>Fair share across tenants with the Virtual Token Counter.</summary>
    Fair,
}

/// <summary>Weights of the Virtual Token Counter (fair policy).</summary>
public sealed record FairShareOptions
{
    /// <summary>Counter charge per prompt token.</summary>
    public double InputWeight { get; init; } = 1;

    /// <summary>Counter charge per generated token.</summary>
    public double OutputWeight { get; init; } = 2;

    /// <summary>Per-tenant share weights (default 1): a tenant of weight 2 is entitled to twice the service.</summary>
    public IReadOnlyDictionary<string, double>? TenantWeights { get; init; }
}
