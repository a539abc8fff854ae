namespace Paged.Engine.Kv;

/// <summary>
/// The physical KV blocks of one cache: a reference count per block and a free list ordered for LRU
/// eviction. The free list is an intrusive doubly linked list over block ids (arrays, no allocation
/// per operation), so a freed block that a prefix-cache hit revives leaves it in O(1) from the middle.
/// A block is free exactly when its reference count is 0, and then it is in the free list. Fresh
/// blocks are taken from the head (least recently freed); freed blocks go to the tail, or to the head
/// when they hold nothing worth keeping (no prefix-cache entry), so those are reused first.
/// </summary>
public sealed class BlockPool
{
    private const int None = -1;
    private readonly int[] _refCount;
    private readonly int[] _prev;
    private readonly int[] _next;
    private readonly int[] _filled;
    private int _head = None;
    private int _tail = None;

    public BlockPool(int numBlocks, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _refCount = new int[numBlocks];
        _prev = new int[numBlocks];
        _next = new int[numBlocks];
        _filled = new int[numBlocks];
        for (int b = 0; b < numBlocks; b++)
            LinkTail(b);
        NumFree = numBlocks;
    }

    public int NumBlocks { get; }

    public int BlockSize { get; }

    /// <summary>Blocks with reference count 0 (free, possibly still holding a revivable cached prefix).</summary>
    public int NumFree { get; private set; }

    public int NumUsed => NumBlocks - NumFree;

    /// <summary>Token slots holding computed tokens, summed over blocks in use (each physical block once).</summary>
    public long FilledSlotsInUse { get; private set; }

    public int RefCount(int block) => _refCount[block];

    public bool IsFree(int block) => _refCount[block] == 0;

    /// <summary>Tokens whose KV a block holds (0..BlockSize).</summary>
    public int Filled(int block) => _filled[block];

    /// <summary>The next block <see cref="AllocateFresh"/> would take, or -1 when none is free.</summary>
    public int PeekLeastRecentlyUsed() => _head;

    /// <summary>The free list from the next block to evict to the last.</summary>
    public IEnumerable<int> FreeListOrder()
    {
        for (int b = _head; b != None; b = _next[b])
            yield return b;
    }

    /// <summary>Takes the least recently used free block; its old content is forgotten. Throws when none is free.</summary>
    public int AllocateFresh()
    {
        int b = _head;
        if (b == None)
            throw new InvalidOperationException("no free KV blocks");
        Unlink(b);
        NumFree--;
        _refCount[b] = 1;
        _filled[b] = 0;
        return b;
    }

    /// <summary>Adds a reference; a free block (a revived cached block) leaves the free list.</summary>
    public void Retain(int block)
    {
        if (_refCount[block]++ == 0)
        {
            Unlink(block);
            NumFree--;
            FilledSlotsInUse += _filled[block];
        }
    }

    /// <summary>Drops a reference; returns true when the block became free.</summary>
    public bool Release(int block, bool keepLonger)
    {
        if (_refCount[block] <= 0)
            throw new InvalidOperationException($"block {block} released while free");
        if (--_refCount[block] > 0)
            return false;
        FilledSlotsInUse -= _filled[block];
        if (keepLonger)
            LinkTail(block);
        else
            LinkHead(block);
        NumFree++;
        return true;
    }

    /// <summary>Records that a block in use now holds <paramref name="tokens"/> computed tokens.</summary>
    public void SetFilled(int block, int tokens)
    {
        FilledSlotsInUse += tokens - _filled[block];
        _filled[block] = tokens;
    }

    private void LinkTail(int b)
    {
        _prev[b] = _tail;
        _next[b] = None;
        if (_tail != None)
            _next[_tail] = b;
        else
            _head = b;
        _tail = b;
    }

    private void LinkHead(int b)
    {
        _next[b] = _head;
        _prev[b] = None;
        if (_head != None)
            _prev[_head] = b;
        else
            _tail = b;
        _head = b;
    }

    private void Unlink(int b)
    {
        int p = _prev[b], n = _next[b];
        if (p != None)
            _next[p] = n;
        else
            _head = n;
        if (n != None)
            _prev[n] = p;
        else
            _tail = p;
        _prev[b] = _next[b] = None;
    }
}
