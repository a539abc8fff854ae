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
        string dtype = KvCacheDTypes.Resolve(kvCacheDType) switch
        {
            Paged.Runtime.Interop.DType.F32 => "f32",
            Paged.Runtime.Interop.DType.F16 => "f16",
            Paged.Runtime.Interop.DType.BF16 => "bf16",
            var other => throw new ArgumentException($"KV dtype {other} has no wire name"),
        };
        return new KvGeometry(config.NumLayers, config.NumKvHeads, blockSize, config.HeadSize, dtype);
    }

    public long BytesPerBlock => (long)NumLayers * 2 * NumKvHeads * BlockSize * HeadSize * ElementBytes(DType);

    public static int ElementBytes(string dtype) => dtype switch
    {
        "f32" => 4,
        "f16" or "bf16" => 2,
        "fp8" or "int8" => 1,
        _ => throw new ArgumentException($"unknown KV dtype '{dtype}'"),
    };

    /// <summary>Null when equal, else what differs (for a clear error).</summary>
    public string? Mismatch(KvGeometry other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return this == other ? null : $"KV geometry differs: this engine has {this}, the remote has {other}";
    }

    public override string ToString() =>
        $"{NumLayers} layers x {NumKvHeads} KV heads x block {BlockSize} x head {HeadSize} ({DType})";
}
