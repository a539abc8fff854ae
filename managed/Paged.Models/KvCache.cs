using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models;

/// <summary>
/// The paged KV cache of one model on one device: a pool of fixed-size blocks laid out as
/// [num_blocks][num_layers][2 (K,V)][num_kv_heads][block_size][head_size] (see paged.h).
/// Which block belongs to which sequence is the engine's business; this type only owns the memory.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly DeviceBuffer _buffer;

    public KvCache(DeviceContext context, int numBlocks, int numLayers, int numKvHeads, int blockSize, int headSize)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        NumBlocks = numBlocks;
        NumLayers = numLayers;
        NumKvHeads = numKvHeads;
        BlockSize = blockSize;
        HeadSize = headSize;
        _buffer = context.Allocate<float>((long)numBlocks * ElementsPerBlock(numLayers, numKvHeads, blockSize, headSize));
    }

    public int NumBlocks { get; }

    public int NumLayers { get; }

    public int NumKvHeads { get; }

    public int BlockSize { get; }

    public int HeadSize { get; }

    /// <summary>Bytes one block occupies (all layers, K and V).</summary>
    public long BytesPerBlock => ElementsPerBlock(NumLayers, NumKvHeads, BlockSize, HeadSize) * sizeof(float);

    public DeviceBuffer Buffer => _buffer;

    public KvCacheDesc Descriptor => new()
    {
        Data = _buffer.Address,
        NumBlocks = NumBlocks,
        NumLayers = NumLayers,
        NumKvHeads = NumKvHeads,
        BlockSize = BlockSize,
        HeadSize = HeadSize,
        DType = DType.F32,
    };

    /// <summary>Floats one block occupies.</summary>
    public long ElementsPerBlockTotal => ElementsPerBlock(NumLayers, NumKvHeads, BlockSize, HeadSize);

    public static long ElementsPerBlock(int numLayers, int numKvHeads, int blockSize, int headSize) =>
        (long)numLayers * 2 * numKvHeads * blockSize * headSize;

    public void Dispose() => _buffer.Dispose();
}
