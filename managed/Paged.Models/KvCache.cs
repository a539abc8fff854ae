using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models;

/// <summary>
/// The paged KV cache of one model on one device: a pool of fixed-size blocks laid out as
/// [num_blocks][num_layers][2 (K,V)][num_kv_heads][block_size][head_size] (see paged.h).
/// Which block belongs to which sequence is the engine's business; this type only owns the memory.
/// Elements are f32, bf16 or f16 (<see cref="DType"/>): a block's bytes are its elements times the element size.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly DeviceBuffer _buffer;

    public KvCache(DeviceContext context, int numBlocks, int numLayers, int numKvHeads, int blockSize, int headSize, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        NumBlocks = numBlocks;
        NumLayers = numLayers;
        NumKvHeads = numKvHeads;
        BlockSize = blockSize;
        HeadSize = headSize;
        DType = dtype;
        _buffer = context.Allocate<byte>(numBlocks * BlockBytes(numLayers, numKvHeads, blockSize, headSize, dtype));
    }

    public int NumBlocks { get; }

    public int NumLayers { get; }

    public int NumKvHeads { get; }

    public int BlockSize { get; }

    public int HeadSize { get; }

    /// <summary>Element type of the cache.</summary>
    public DType DType { get; }

    /// <summary>Bytes one block occupies (all layers, K and V).</summary>
    public long BytesPerBlock => BlockBytes(NumLayers, NumKvHeads, BlockSize, HeadSize, DType);

    public DeviceBuffer Buffer => _buffer;

    public KvCacheDesc Descriptor => new()
    {
        Data = _buffer.Address,
        NumBlocks = NumBlocks,
        NumLayers = NumLayers,
        NumKvHeads = NumKvHeads,
        BlockSize = BlockSize,
        HeadSize = HeadSize,
        DType = DType,
    };

    /// <summary>Elements one block occupies.</summary>
    public long ElementsPerBlockTotal => ElementsPerBlock(NumLayers, NumKvHeads, BlockSize, HeadSize);

    public static long ElementsPerBlock(int numLayers, int numKvHeads, int blockSize, int headSize) =>
        (long)numLayers * 2 * numKvHeads * blockSize * headSize;

    /// <summary>Bytes of one block (every layer, K and V) for an element type: the one formula for block sizes.</summary>
    public static long BlockBytes(int numLayers, int numKvHeads, int blockSize, int headSize, DType dtype) =>
        ElementsPerBlock(numLayers, numKvHeads, blockSize, headSize) * (dtype == DType.F32 ? sizeof(float) : sizeof(ushort));

    public void Dispose() => _buffer.Dispose();
}
