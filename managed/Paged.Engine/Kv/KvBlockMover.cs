using System.Runtime.InteropServices;
using Paged.Engine.KvTransfer;
using Paged.Models;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Engine.Kv;

/// <summary>
/// Every whole-block move of the KV cache in one place: copy-on-write copies (device to device, one batched
/// block_copy), swaps to and from the host pool (one block_swap per direction), and the raw bytes of a block
/// for transfer to or from another engine. A block is one contiguous buffer of every layer's keys and values
/// ([num_layers][2][num_kv_heads][block_size][head_size]) with the same bytes on every backend, so export and
/// import are one copy each through the runtime's copy ops (device memory is never touched through a host pointer).
/// </summary>
internal sealed class KvBlockMover : IDisposable
{
    private readonly DeviceContext _context;
    private readonly KvCache _cache;
    private readonly HostKvStore _host;
    private int[] _pairs = new int[64];

    public KvBlockMover(DeviceContext context, KvCache cache, int swapSlots)
    {
        _context = context;
        _cache = cache;
        _host = new HostKvStore(context, swapSlots, cache.BytesPerBlock);
    }

    public long BytesPerBlock => _cache.BytesPerBlock;

    /// <summary>All swaps of one direction in one block_swap call (pairs in host memory).</summary>
    public unsafe void Swap(List<BlockMove> moves, SwapDirection direction)
    {
        if (moves.Count == 0)
            return;
        FillPairs(moves);
        fixed (int* p = _pairs)
        {
            _context.BlockSwap(new BlockSwapArgs
            {
                Cache = _cache.Descriptor, Host = _host.Pool.Address, Pairs = (nint)p,
                NumHostBlocks = _host.NumSlots, NumPairs = moves.Count, Direction = direction,
            });
        }
    }

    /// <summary>Stages the step's copy-on-write pairs (device memory, paged.h) in the step's upload; -1 when there are none.</summary>
    public long StageCopyPairs(List<BlockMove> copies, StagingBuffer upload)
    {
        if (copies.Count == 0)
            return -1;
        FillPairs(copies);
        return upload.Stage<int>(_pairs.AsSpan(0, 2 * copies.Count));
    }

    /// <summary>All copy-on-write pairs of the step in one block_copy call (after the upload holding them was flushed).</summary>
    public void Copy(int count, long pairs, StagingBuffer upload)
    {
        if (count == 0)
            return;
        _context.BlockCopy(new BlockCopyArgs { Cache = _cache.Descriptor, Pairs = upload.Address(pairs), NumPairs = count });
    }

    /// <summary>Copies device block <paramref name="block"/> into <paramref name="destination"/> (exactly <see cref="BytesPerBlock"/> bytes).</summary>
    public void Export(int block, Span<byte> destination)
    {
        CheckBlock(block, destination.Length);
        _cache.Buffer.CopyTo(destination, block * BytesPerBlock);
    }

    /// <summary>Overwrites device block <paramref name="block"/> with <paramref name="source"/> (exactly <see cref="BytesPerBlock"/> bytes).</summary>
    public void Import(int block, ReadOnlySpan<byte> source)
    {
        CheckBlock(block, source.Length);
        _cache.Buffer.CopyFrom(source, block * BytesPerBlock);
    }

    /// <summary>Writes the blocks of every planned load (host bytes received from another engine) into their device blocks.</summary>
    public void Load(List<KvLoad> loads)
    {
        foreach (var load in loads)
        {
            var table = CollectionsMarshal.AsSpan(load.Sequence.BlockTable);
            var data = load.Source.Data.Span;
            for (int i = 0; i < load.Source.NumBlocks; i++)
                Import(table[i], data.Slice((int)(i * BytesPerBlock), (int)BytesPerBlock));
        }
    }

    private void CheckBlock(int block, int bytes)
    {
        if ((uint)block >= (uint)_cache.NumBlocks)
            throw new ArgumentOutOfRangeException(nameof(block), $"block {block} is outside the cache (0..{_cache.NumBlocks - 1})");
        if (bytes != BytesPerBlock)
            throw new ArgumentException($"a block is {BytesPerBlock} bytes, not {bytes}");
    }

    private void FillPairs(List<BlockMove> moves)
    {
        if (_pairs.Length < moves.Count * 2)
            _pairs = new int[moves.Count * 4];
        for (int i = 0; i < moves.Count; i++)
        {
            _pairs[2 * i] = moves[i].Src;
            _pairs[(2 * i) + 1] = moves[i].Dst;
        }
    }

    public void Dispose() => _host.Dispose();
}
