namespace Paged.Engine.Kv;

/// <summary>
/// Gives sequences KV blocks: reuse of cached prefixes, growth as tokens are scheduled, copy-on-write
/// of shared partial blocks, forks (n > 1), freeing, and moving a sequence's blocks to host swap slots
/// and back. The block pool counts references; the prefix cache (absent when prefix caching is off)
/// remembers full blocks by key. With a sliding window, blocks that fall wholly out of every future
/// query's window are released as the sequence advances; their table entries become <see cref="FreedBlock"/>.
/// </summary>
public sealed class KvCacheManager
{
    private readonly Stack<int> _freeHostSlots;
    private readonly List<int> _hostSlotsToRelease = [];

    public KvCacheManager(int numBlocks, int blockSize, bool prefixCaching, int swapSlots, BlockHasher? hasher = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(swapSlots);
        Pool = new BlockPool(numBlocks, blockSize);
        PrefixCache = prefixCaching ? new PrefixCache(numBlocks, blockSize, hasher) : null;
        BlockSize = blockSize;
        NumHostSlots = swapSlots;
        _freeHostSlots = new Stack<int>(swapSlots);
        for (int s = swapSlots - 1; s >= 0; s--)
            _freeHostSlots.Push(s);
    }

    /// <summary>The block-table entry of a block released because it left the sliding window (never read: see
    /// paged.h, pg_attention_args).</summary>
    public const int FreedBlock = -1;

    public BlockPool Pool { get; }

    /// <summary>The model's sliding window W (0: none): a query at position p reads positions above p - W only.</summary>
    public int SlidingWindow { get; init; }

    /// <summary>Null when prefix caching is off.</summary>
    public PrefixCache? PrefixCache { get; }

    public int BlockSize { get; }

    public int NumHostSlots { get; }

    public int NumFreeHostSlots => _freeHostSlots.Count;

    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>
    /// For a sequence without blocks: how many of its leading full blocks are cached (at most
    /// (Length - 1) / BlockSize, so the last token is always computed), and how many of those are
    /// free now (reviving them uses up free blocks). Computes keys as needed; counts nothing.
    /// </summary>
    public int FindCachedPrefix(Sequence seq, out int revivedFree)
    {
        revivedFree = 0;
        if (!ReusesPrefix(seq) || seq.BlockTable.Count != 0)
            return 0;
        int max = (seq.Length - 1) / BlockSize;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.TokenList);
        int hits = 0;
        for (int i = 0; i < max; i++)
        {
            EnsureKey(seq, i, tokens);
            int b = PrefixCache.Find(seq.BlockKeys[i], ParentKey(seq, i), tokens.Slice(i * BlockSize, BlockSize));
            if (b < 0)
                break;
            if (Pool.IsFree(b))
                revivedFree++;
            hits++;
        }

        return hits;
    }

    /// <summary>Attaches the first <paramref name="hits"/> cached blocks found by <see cref="FindCachedPrefix"/>; counts the lookups.</summary>
    public void AttachCachedPrefix(Sequence seq, int hits)
    {
        if (!ReusesPrefix(seq))
            return;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.TokenList);
        int max = (seq.Length - 1) / BlockSize;
        for (int i = 0; i < max; i++)
        {
            EnsureKey(seq, i, tokens);
            int b = PrefixCache.Lookup(seq.BlockKeys[i], ParentKey(seq, i), tokens.Slice(i * BlockSize, BlockSize));
            if (i >= hits)
                break;
            if (b < 0)
                throw new InvalidOperationException("a cached prefix block vanished between planning and admission");
            Pool.Retain(b);
            seq.BlockTable.Add(b);
        }

        seq.NumComputed = hits * BlockSize;
    }

    /// <summary>Prompt logprobs need the logits of every prompt position, which a cached prefix has not: such requests
    /// skip the lookup (as vLLM does); their blocks are still registered for others.</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNullWhen(true, nameof(PrefixCache))]
    private bool ReusesPrefix(Sequence seq) => PrefixCache is not null && seq.Sampling.PromptLogprobs is null;

    /// <summary>Free blocks needed to compute <paramref name="count"/> more tokens (new blocks and a copy-on-write copy).</summary>
    public int BlocksNeeded(Sequence seq, int count)
    {
        int need = Math.Max(0, BlocksFor(seq.NumComputed + count) - seq.BlockTable.Count);
        return need + (NeedsCopyOnWrite(seq) ? 1 : 0);
    }

    private bool NeedsCopyOnWrite(Sequence seq)
    {
        int i = seq.NumComputed / BlockSize;
        return seq.NumComputed % BlockSize != 0 && i < seq.BlockTable.Count && Pool.RefCount(seq.BlockTable[i]) > 1;
    }

    /// <summary>
    /// Gives the sequence blocks for tokens [NumComputed, NumComputed + count). A shared, partly filled
    /// block about to be written gets a private copy first (a pair in the plan's copy list). False,
    /// with nothing changed, when there are not enough free blocks.
    /// </summary>
    public bool TryAllocate(Sequence seq, int count, StepPlan plan)
    {
        if (BlocksNeeded(seq, count) > Pool.NumFree)
            return false;
        if (NeedsCopyOnWrite(seq))
        {
            int i = seq.NumComputed / BlockSize;
            int src = seq.BlockTable[i];
            int dst = AllocateFresh();
            Pool.SetFilled(dst, Pool.Filled(src));
            plan.Copies.Add(new BlockMove(src, dst));
            Pool.Release(src, keepLonger: false);
            seq.BlockTable[i] = dst;
        }

        int target = BlocksFor(seq.NumComputed + count);
        while (seq.BlockTable.Count < target)
            seq.BlockTable.Add(AllocateFresh());
        return true;
    }

    private int AllocateFresh()
    {
        int b = Pool.AllocateFresh();
        PrefixCache?.Forget(b);
        return b;
    }

    /// <summary>Releases every block of the sequence, last block first (so the tail is evicted before the shared head).</summary>
    public void Free(Sequence seq)
    {
        var table = seq.BlockTable;
        for (int i = table.Count - 1; i >= 0; i--)
        {
            int b = table[i];
            if (b != FreedBlock)
                Pool.Release(b, keepLonger: PrefixCache is not null && PrefixCache.IsCached(b));
        }

        table.Clear();
    }

    /// <summary>After a step computed tokens [oldComputed, seq.NumComputed): records fill levels and caches the blocks that became full.</summary>
    public void OnComputed(Sequence seq, int oldComputed)
    {
        int computed = seq.NumComputed;
        var table = seq.BlockTable;
        for (int i = oldComputed / BlockSize; i < table.Count && i * BlockSize < computed; i++)
            Pool.SetFilled(table[i], Math.Min(BlockSize, computed - (i * BlockSize)));
        if (PrefixCache is null)
            return;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.TokenList);
        for (int i = oldComputed / BlockSize; i < computed / BlockSize; i++)
        {
            EnsureKey(seq, i, tokens);
            PrefixCache.Register(table[i], seq.BlockKeys[i], ParentKey(seq, i), tokens.Slice(i * BlockSize, BlockSize));
        }
    }

    /// <summary>
    /// With a sliding window W: the next query token sits at position NumComputed and reads positions from
    /// NumComputed - W + 1 on, so every block ending at or before that is never read again by this sequence and
    /// is released (kept in the prefix cache when cached, like a finished sequence's blocks; a fork holding the
    /// same block keeps its own reference). Called after <see cref="OnComputed"/>.
    /// </summary>
    public void ReleaseOutOfWindow(Sequence seq)
    {
        if (SlidingWindow <= 0)
            return;
        var table = seq.BlockTable;
        int outOfWindow = Math.Min(table.Count, Math.Max(0, seq.NumComputed - SlidingWindow + 1) / BlockSize);
        // Entries before the last freed one are freed already: walk back until one is found.
        for (int i = outOfWindow - 1; i >= 0 && table[i] != FreedBlock; i--)
        {
            Pool.Release(table[i], keepLonger: PrefixCache is not null && PrefixCache.IsCached(table[i]));
            table[i] = FreedBlock;
        }
    }

    /// <summary>Makes <paramref name="child"/> share every block of <paramref name="parent"/> (n > 1 after the prompt).</summary>
    public void Fork(Sequence parent, Sequence child)
    {
        if (child.BlockTable.Count != 0)
            throw new InvalidOperationException("a forked sequence must have no blocks");
        foreach (int b in parent.BlockTable)
        {
            if (b != FreedBlock)
                Pool.Retain(b);
            child.BlockTable.Add(b);
        }

        child.BlockKeys.Clear();
        child.BlockKeys.AddRange(parent.BlockKeys);
        child.NumComputed = parent.NumComputed;
    }

    public bool CanSwapOut(Sequence seq) => seq.BlockTable.Count(b => b != FreedBlock) <= _freeHostSlots.Count;

    /// <summary>Copies the sequence's blocks to host slots (pairs in the plan) and frees its device blocks.</summary>
    public void SwapOut(Sequence seq, StepPlan plan)
    {
        if (!CanSwapOut(seq))
            throw new InvalidOperationException("not enough host swap space");
        foreach (int b in seq.BlockTable)
        {
            if (b == FreedBlock)
            {
                seq.HostBlocks.Add(FreedBlock);
                continue;
            }

            int slot = _freeHostSlots.Pop();
            plan.SwapOut.Add(new BlockMove(b, slot));
            seq.HostBlocks.Add(slot);
        }

        Free(seq);
    }

    /// <summary>Free device blocks needed to swap the sequence in and then compute <paramref name="count"/> tokens.</summary>
    public int BlocksNeededToSwapIn(Sequence seq, int count) =>
        seq.HostBlocks.Count(s => s != FreedBlock) + Math.Max(0, BlocksFor(seq.NumComputed + count) - seq.HostBlocks.Count);

    /// <summary>Allocates device blocks for a swapped-out sequence and copies its host slots back (pairs in the plan).</summary>
    public void SwapIn(Sequence seq, StepPlan plan)
    {
        if (seq.HostBlocks.Count(s => s != FreedBlock) > Pool.NumFree)
            throw new InvalidOperationException("not enough free blocks to swap in");
        for (int i = 0; i < seq.HostBlocks.Count; i++)
        {
            if (seq.HostBlocks[i] == FreedBlock)
            {
                seq.BlockTable.Add(FreedBlock);
                continue;
            }

            int b = AllocateFresh();
            Pool.SetFilled(b, Math.Min(BlockSize, seq.NumComputed - (i * BlockSize)));
            plan.SwapIn.Add(new BlockMove(seq.HostBlocks[i], b));
            seq.BlockTable.Add(b);
            _hostSlotsToRelease.Add(seq.HostBlocks[i]);
        }

        seq.HostBlocks.Clear();
    }

    /// <summary>Frees the host slots of a swapped-out sequence that will never come back (finished or aborted).</summary>
    public void DropSwapped(Sequence seq)
    {
        foreach (int s in seq.HostBlocks.Where(s => s != FreedBlock))
            _freeHostSlots.Push(s);
        seq.HostBlocks.Clear();
    }

    /// <summary>Returns host slots read by the last step's swap-ins to the free list (called when a new step starts).</summary>
    public void BeginStep()
    {
        foreach (int s in _hostSlotsToRelease)
            _freeHostSlots.Push(s);
        _hostSlotsToRelease.Clear();
    }

    /// <summary>Keeps blocks allocated beyond their sequence (a finished prefill held for transfer): one more reference each.</summary>
    public void Pin(IReadOnlyList<int> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        foreach (int b in blocks)
            Pool.Retain(b);
    }

    /// <summary>Drops the references <see cref="Pin"/> took (full blocks stay in the prefix cache's free list).</summary>
    public void Unpin(IReadOnlyList<int> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        for (int i = blocks.Count - 1; i >= 0; i--)
            Pool.Release(blocks[i], keepLonger: PrefixCache is not null && PrefixCache.IsCached(blocks[i]));
    }

    private static UInt128 ParentKey(Sequence seq, int block) => block == 0 ? PrefixCache.RootKey : seq.BlockKeys[block - 1];

    private void EnsureKey(Sequence seq, int block, ReadOnlySpan<int> tokens)
    {
        var keys = seq.BlockKeys;
        while (keys.Count <= block)
        {
            int i = keys.Count;
            keys.Add(PrefixCache!.Key(ParentKey(seq, i), tokens.Slice(i * BlockSize, BlockSize), seq.Request.CacheKey));
        }
    }
}
