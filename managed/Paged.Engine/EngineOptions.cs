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

    /// <summary>Seed of the engine's generator for requests without a seed of their own.</summary>
    public ulong Seed { get; init; }

    public void Validate()
    {
        if (BlockSize is < 1 or > 1024)
            throw new ArgumentException($"block size must be in 1..1024 (got {BlockSize})");
        if (MaxNumSeqs < 1)
            throw new ArgumentException($"max batch (max_num_seqs) must be at least 1 (got {MaxNumSeqs})");
        if (MaxNumBatchedTokens < 1)
            throw new ArgumentException($"max_num_batched_tokens must be at least 1 (got {MaxNumBatchedTokens})");
        if (NumKvBlocks < 0 || KvMemoryBytes < 0)
            throw new ArgumentException("KV cache size must not be negative");
        if (NumThreads < 0)
            throw new ArgumentException($"threads must be >= 0 (got {NumThreads})");
    }
}
