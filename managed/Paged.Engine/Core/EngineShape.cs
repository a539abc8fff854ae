using Paged.Models;

namespace Paged.Engine;

/// <summary>Sizes derived from the model and the options: KV blocks, context, batch limits, swap slots.</summary>
internal readonly record struct EngineShape(int NumKvBlocks, int MaxContext, int MaxBlocksPerSeq, int MaxBatchedTokens, int SwapSlots)
{
    public static EngineShape From(ModelConfig c, EngineOptions o)
    {
        long bytesPerBlock = KvCache.BlockBytes(c.NumLayers, c.NumKvHeads, o.BlockSize, c.HeadSize, KvCacheDTypes.Resolve(o.KvCacheDType));
        int numBlocks = NumBlocks(c, o, bytesPerBlock);
        int maxContext = Math.Min(c.MaxSeqLen, numBlocks * o.BlockSize);
        int maxBlocksPerSeq = (maxContext + o.BlockSize - 1) / o.BlockSize;
        int maxTokens = Math.Max(o.MaxNumBatchedTokens, o.MaxNumSeqs);
        long swapBytes = o.Preemption != PreemptionMode.Swap ? 0 : o.SwapSpaceBytes > 0 ? o.SwapSpaceBytes : 256L << 20;
        int swapSlots = (int)Math.Min(swapBytes / bytesPerBlock, 1 << 24);
        return new EngineShape(numBlocks, maxContext, maxBlocksPerSeq, maxTokens, swapSlots);
    }

    private static int NumBlocks(ModelConfig c, EngineOptions o, long bytesPerBlock)
    {
        if (o.NumKvBlocks > 0)
            return o.NumKvBlocks;
        long bytes = o.KvMemoryBytes;
        if (bytes == 0)
        {
            long perSeq = (c.MaxSeqLen + o.BlockSize - 1) / o.BlockSize;
            bytes = Math.Min(perSeq * o.MaxNumSeqs * bytesPerBlock, 4L << 30);
        }

        long blocks = bytes / bytesPerBlock;
        if (blocks < 1)
            throw new ArgumentException($"KV memory of {bytes} bytes holds no block ({bytesPerBlock} bytes each)");
        return (int)Math.Min(blocks, int.MaxValue);
    }
}
