namespace Paged.Engine.KvTransfer;

/// <summary>
/// The shape of one KV block, which two engines must share for a block's bytes to mean the same thing on both:
/// [num_layers][2 (K,V)][num_kv_heads][block_size][head_size] elements of <see cref="DType"/>.
/// </summary>
public sealed record KvGeometry(int NumLayers, int NumKvHeads, int BlockSize, int HeadSize, string DType)
{
    /// <summary>The geometry of an engine's cache for <paramref name="config"/> with blocks of <paramref name="blockSize"/> tokens
    /// stored as <paramref name="kvCacheDType"/> (resolved as the cache resolves it, so both sides name the same bytes).</summary>
    public static KvGeometry Of(Paged.Models.ModelConfig config, int blockSize, KvCacheDType kvCacheDType)
    {
        ArgumentNullException.ThrowIfNull(config);
        var dtype = KvCacheDTypes.Resolve(kvCacheDType);
        foreach (var (name, d) in WireNames)
        {
            if (d == dtype)
                return new KvGeometry(config.NumLayers, config.NumKvHeads, blockSize, config.HeadSize, name);
        }

        throw new ArgumentException($"KV dtype {dtype} has no wire name");
    }

    /// <summary>A block's bytes, from the cache's own formula (<see cref="Paged.Models.KvCache.BlockBytes"/>).</summary>
    public long BytesPerBlock
    {
        get
        {
            foreach (var (name, dtype) in WireNames)
            {
                if (name == DType)
                    return Paged.Models.KvCache.BlockBytes(NumLayers, NumKvHeads, BlockSize, HeadSize, dtype);
            }

            throw new ArgumentException($"unknown KV dtype '{DType}' (f32, f16 or bf16)");
        }
    }

    // The cache dtypes as the transfer parameters name them.
    private static readonly (string Name, Paged.Runtime.Interop.DType DType)[] WireNames =
    [
        ("f32", Paged.Runtime.Interop.DType.F32),
        ("f16", Paged.Runtime.Interop.DType.F16),
        ("bf16", Paged.Runtime.Interop.DType.BF16),
    ];

    /// <summary>Null when equal, else what differs (for a clear error).</summary>
    public string? Mismatch(KvGeometry other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return this == other ? null : $"KV geometry differs: this engine has {this}, the remote has {other}";
    }

    public override string ToString() =>
        $"{NumLayers} layers x {NumKvHeads} KV heads x block {BlockSize} x head {HeadSize} ({DType})";
}
