namespace Paged.Engine.Kv;

/// <summary>What a physical KV block holds at one moment (the console's block map colours cells by it).</summary>
public enum KvBlockState : byte
{
    /// <summary>Free and holding nothing worth keeping.</summary>
    Free,

    /// <summary>Free, but registered in the prefix cache: a later request with the same prefix revives it.</summary>
    Cached,

    /// <summary>In use by one sequence.</summary>
    Used,

    /// <summary>In use by several sequences (a shared prefix, or the siblings of an n > 1 request).</summary>
    Shared,
}

/// <summary>
/// A copy of every block's state (one byte per block) and of the host swap slots in use, taken on the engine's
/// thread in one pass over the pool's arrays; immutable afterwards, so any thread may read it.
/// </summary>
public sealed class KvBlockMap
{
    private readonly KvBlockState[] _states;

    private KvBlockMap(KvBlockState[] states, int blockSize, int hostSlotsUsed, int hostSlotsTotal)
    {
        _states = states;
        BlockSize = blockSize;
        HostSlotsUsed = hostSlotsUsed;
        HostSlotsTotal = hostSlotsTotal;
        foreach (var s in states)
        {
            switch (s)
            {
                case KvBlockState.Cached: Cached++; break;
                case KvBlockState.Used: Used++; break;
                case KvBlockState.Shared: Shared++; break;
                default: Free++; break;
            }
        }
    }

    public IReadOnlyList<KvBlockState> States => _states;

    public int BlockSize { get; }

    /// <summary>Free blocks that hold nothing.</summary>
    public int Free { get; }

    /// <summary>Free blocks that still hold a prefix-cache entry.</summary>
    public int Cached { get; }

    /// <summary>Blocks used by exactly one sequence.</summary>
    public int Used { get; }

    /// <summary>Blocks referenced by more than one sequence.</summary>
    public int Shared { get; }

    public int HostSlotsUsed { get; }

    public int HostSlotsTotal { get; }

    /// <summary>Reads the pool and the prefix cache. Call it on the thread that owns <paramref name="kv"/>.</summary>
    public static KvBlockMap Capture(KvCacheManager kv)
    {
        ArgumentNullException.ThrowIfNull(kv);
        var pool = kv.Pool;
        var states = new KvBlockState[pool.NumBlocks];
        for (int b = 0; b < states.Length; b++)
        {
            int refs = pool.RefCount(b);
            states[b] = refs switch
            {
                0 => kv.PrefixCache?.IsCached(b) == true ? KvBlockState.Cached : KvBlockState.Free,
                1 => KvBlockState.Used,
                _ => KvBlockState.Shared,
            };
        }

        return new KvBlockMap(states, pool.BlockSize, kv.NumHostSlots - kv.NumFreeHostSlots, kv.NumHostSlots);
    }
}
