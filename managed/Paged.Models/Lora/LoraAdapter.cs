namespace Paged.Models.Lora;

/// <summary>
/// A PEFT LoRA adapter in host memory, checked against one base model: per (layer, target) lora_A as [rank, K]
/// and lora_B transposed to [rank, N] (the layout the lora op reads), and the scale alpha / r (or alpha / sqrt(r)
/// with rsLoRA). Immutable once loaded; the slot store copies it to the device.
/// </summary>
public sealed class LoraAdapter
{
    private static long s_nextId;

    internal LoraAdapter(string name, string path, int rank, float alpha, bool rsLora, IReadOnlyList<LoraTarget> targets,
        float[]?[,] a, float[]?[,] bTransposed)
    {
        Name = name;
        Path = path;
        Rank = rank;
        Alpha = alpha;
        UsesRsLora = rsLora;
        Scale = rsLora ? alpha / MathF.Sqrt(rank) : alpha / rank;
        Targets = targets;
        _a = a;
        _b = bTransposed;
        Id = Interlocked.Increment(ref s_nextId);
    }

    private readonly float[]?[,] _a;
    private readonly float[]?[,] _b;

    /// <summary>The name requests use to pick the adapter.</summary>
    public string Name { get; }

    /// <summary>The adapter's directory.</summary>
    public string Path { get; }

    /// <summary>Unique in the process: two loads of the same files are two adapters (their KV never mixes).</summary>
    public long Id { get; }

    public int Rank { get; }

    public float Alpha { get; }

    public bool UsesRsLora { get; }

    /// <summary>alpha / r, or alpha / sqrt(r) with rsLoRA.</summary>
    public float Scale { get; }

    /// <summary>The projections the adapter changes (a subset of <see cref="LoraTarget.For"/>).</summary>
    public IReadOnlyList<LoraTarget> Targets { get; }

    /// <summary>lora_A of (layer, target index in <see cref="LoraTarget.For"/>): [Rank, K], or null when the target is untouched.</summary>
    public float[]? A(int layer, int target) => _a[layer, target];

    /// <summary>lora_B of (layer, target) transposed: [Rank, N], or null when the target is untouched.</summary>
    public float[]? BTransposed(int layer, int target) => _b[layer, target];

    /// <summary>A prefix-cache key part: KV computed under this adapter is never shared with another or with the base model.</summary>
    public ulong CacheKey => ((ulong)Id * 0x9E3779B97F4A7C15UL) | 1;
}
