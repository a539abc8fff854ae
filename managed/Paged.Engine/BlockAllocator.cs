namespace Paged.Engine;

/// <summary>
/// Hands out KV-cache block ids from a fixed pool (v0: no sharing, no prefix cache; the KV-cache
/// manager issue replaces it). Every block is either free or owned by exactly one sequence.
/// </summary>
public sealed class BlockAllocator
{
    private readonly Stack<int> _free;
    private readonly bool[] _inUse;

    public BlockAllocator(int numBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        NumBlocks = numBlocks;
        _inUse = new bool[numBlocks];
        _free = new Stack<int>(numBlocks);
        for (int b = numBlocks - 1; b >= 0; b--)
            _free.Push(b);
    }

    public int NumBlocks { get; }

    public int NumFree => _free.Count;

    public int NumUsed => NumBlocks - _free.Count;

    public bool IsInUse(int block) => _inUse[block];

    /// <summary>Takes one free block. Call <see cref="NumFree"/> first: an empty pool throws.</summary>
    public int Allocate()
    {
        if (_free.Count == 0)
            throw new InvalidOperationException("no free KV blocks");
        int b = _free.Pop();
        _inUse[b] = true;
        return b;
    }

    /// <summary>Returns every block of <paramref name="blocks"/> to the pool and clears the list.</summary>
    public void FreeAll(List<int> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        foreach (int b in blocks)
        {
            if (!_inUse[b])
                throw new InvalidOperationException($"block {b} freed twice");
            _inUse[b] = false;
            _free.Push(b);
        }

        blocks.Clear();
    }
}
