using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Paged.Engine.Kv;

/// <summary>Computes the key of a full block from its parent's key, its token ids and an extra key.</summary>
public delegate UInt128 BlockHasher(UInt128 parentKey, ReadOnlySpan<int> tokens, ulong extraKey);

/// <summary>
/// Maps the keys of full, computed blocks to the physical blocks holding their KV. A key chains the
/// parent block's key, the block's token ids and an extra key (e.g. an adapter id: anything else that
/// changes the KV), hashed with XxHash128; equal keys mean equal prefixes. A lookup also compares the
/// stored token ids (and the parent key), so a hash collision can never serve wrong KV. Entries stay
/// while their block is free, so a later request revives them; the block pool's LRU order decides
/// eviction, and <see cref="Forget"/> drops an entry when its block is reused.
/// </summary>
public sealed class PrefixCache
{
    private readonly Dictionary<UInt128, int> _byKey;
    private readonly UInt128[] _key;
    private readonly UInt128[] _parent;
    private readonly bool[] _cached;
    private readonly int[] _tokens;
    private readonly BlockHasher _hasher;

    public PrefixCache(int numBlocks, int blockSize, BlockHasher? hasher = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        BlockSize = blockSize;
        _byKey = new Dictionary<UInt128, int>(numBlocks);
        _key = new UInt128[numBlocks];
        _parent = new UInt128[numBlocks];
        _cached = new bool[numBlocks];
        _tokens = new int[numBlocks * blockSize];
        _hasher = hasher ?? Hash;
    }

    /// <summary>The parent key of a sequence's first block.</summary>
    public static UInt128 RootKey => UInt128.Zero;

    public int BlockSize { get; }

    /// <summary>Blocks currently registered.</summary>
    public int Count => _byKey.Count;

    /// <summary>Full blocks looked up for new or resumed sequences.</summary>
    public long Queries { get; private set; }

    /// <summary>Lookups answered with a cached block.</summary>
    public long Hits { get; private set; }

    public double HitRate => Queries == 0 ? 0 : Hits / (double)Queries;

    /// <summary>Registered blocks dropped because their memory was reused (LRU eviction).</summary>
    public long Evictions { get; private set; }

    /// <summary>The default key function: XxHash128 over (parent key, extra key, token ids).</summary>
    public static UInt128 Hash(UInt128 parentKey, ReadOnlySpan<int> tokens, ulong extraKey)
    {
        int bytes = 24 + (tokens.Length * sizeof(int));
        Span<byte> buffer = bytes <= 4200 ? stackalloc byte[bytes] : new byte[bytes];
        MemoryMarshal.Write(buffer, in parentKey);
        MemoryMarshal.Write(buffer[16..], in extraKey);
        MemoryMarshal.AsBytes(tokens).CopyTo(buffer[24..]);
        return XxHash128.HashToUInt128(buffer);
    }

    public UInt128 Key(UInt128 parentKey, ReadOnlySpan<int> tokens, ulong extraKey) => _hasher(parentKey, tokens, extraKey);

    public bool IsCached(int block) => _cached[block];

    /// <summary>The key a cached block is registered under.</summary>
    public UInt128 KeyOf(int block) => _cached[block] ? _key[block] : throw new InvalidOperationException($"block {block} is not cached");

    /// <summary>The token ids a cached block was registered with.</summary>
    public ReadOnlySpan<int> TokensOf(int block) =>
        _cached[block] ? _tokens.AsSpan(block * BlockSize, BlockSize) : throw new InvalidOperationException($"block {block} is not cached");

    /// <summary>Finds the block holding exactly these tokens after this parent, or -1; counts a query.</summary>
    public int Lookup(UInt128 key, UInt128 parentKey, ReadOnlySpan<int> tokens)
    {
        Queries++;
        int b = Find(key, parentKey, tokens);
        if (b >= 0)
            Hits++;
        return b;
    }

    /// <summary>As <see cref="Lookup"/> without counting (to plan an admission before committing to it).</summary>
    public int Find(UInt128 key, UInt128 parentKey, ReadOnlySpan<int> tokens)
    {
        if (!_byKey.TryGetValue(key, out int b))
            return -1;
        return _parent[b] == parentKey && tokens.SequenceEqual(_tokens.AsSpan(b * BlockSize, BlockSize)) ? b : -1;
    }

    /// <summary>
    /// Registers a full, computed block. Returns false (and registers nothing) when the key is already
    /// taken, by an identical block computed concurrently or by a colliding one.
    /// </summary>
    public bool Register(int block, UInt128 key, UInt128 parentKey, ReadOnlySpan<int> tokens)
    {
        if (tokens.Length != BlockSize)
            throw new ArgumentException($"only full blocks ({BlockSize} tokens) are cached", nameof(tokens));
        if (_cached[block])
            return _key[block] == key;
        if (!_byKey.TryAdd(key, block))
            return false;
        _cached[block] = true;
        _key[block] = key;
        _parent[block] = parentKey;
        tokens.CopyTo(_tokens.AsSpan(block * BlockSize, BlockSize));
        return true;
    }

    /// <summary>Drops a block's entry (its memory is being reused). No-op for an uncached block.</summary>
    public void Forget(int block)
    {
        if (!_cached[block])
            return;
        _byKey.Remove(_key[block]);
        _cached[block] = false;
        Evictions++;
    }

    /// <summary>Drops every entry (blocks in use keep their contents, they just cannot be shared any more).</summary>
    public void Clear()
    {
        foreach (int b in _byKey.Values)
            _cached[b] = false;
        _byKey.Clear();
    }
}
