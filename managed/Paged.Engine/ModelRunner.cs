using System.Runtime.InteropServices;
using Paged.Engine.Kv;
using Paged.Models;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Engine;

/// <summary>Executes a <see cref="StepPlan"/> on the model: swaps, block copies, the batched forward pass, sampling.</summary>
internal sealed class ModelRunner : IModelExecutor
{
    private readonly DeviceContext? _context;
    private readonly ICausalLM _model;
    private readonly KvCache _cache;
    private readonly HostKvStore _host;
    private readonly StepBatch _batch;
    private readonly SequenceSampler _sampling;
    private readonly int _blockSize;
    private readonly int _vocab;
    // The step's one packed host-to-device copy: copy pairs, the forward pass's index arrays and the
    // sampling parameters (paged.h: all device memory), staged in page-locked memory.
    private readonly StagingBuffer _upload;
    private int[] _pairs = new int[64];

    /// <summary>Opens the backend, allocates the KV cache and uploads the model; the runner owns all three.</summary>
    public static ModelRunner Create(ModelWeights weights, EngineOptions options, EngineShape shape)
    {
        var config = weights.Config;
        var context = Backend.Load(options.Device).CreateContext(options.NumThreads);
        KvCache? cache = null;
        ICausalLM? model = null;
        try
        {
            cache = new KvCache(context, shape.NumKvBlocks, config.NumLayers, config.NumKvHeads, options.BlockSize, config.HeadSize);
            model = ModelRegistry.Create(context, weights, new ModelCapacity(shape.MaxBatchedTokens, options.MaxNumSeqs, shape.MaxBlocksPerSeq)
            {
                MaxLoras = options.MaxLoras,
                MaxLoraRank = options.MaxLoraRank,
            });
            return new ModelRunner(model, cache, shape.SwapSlots, context);
        }
        catch
        {
            model?.Dispose();
            cache?.Dispose();
            context.Dispose();
            throw;
        }
    }

    public string DeviceName => _model.Context.DeviceName;

    /// <summary>The backend's cumulative waits, launches and copies.</summary>
    public Paged.Runtime.Interop.BackendCounters BackendCounters => _model.Context.Counters;

    public ModelRunner(ICausalLM model, KvCache cache, int swapSlots, DeviceContext? ownedContext = null)
    {
        _context = ownedContext;
        _sampling = new SequenceSampler(model.Context, model.Config.StopTokenIds);
        _model = model;
        _cache = cache;
        _host = new HostKvStore(model.Context, swapSlots, cache.BytesPerBlock);
        _blockSize = cache.BlockSize;
        _vocab = model.Config.VocabSize;
        _batch = new StepBatch(model.MaxTokens, model.MaxSeqs, model.MaxBlocksPerSeq);
        _upload = new StagingBuffer(model.Context);
        Adapters = model.LoraSlots is { } slots ? new Lora.LoraResidency(slots) : null;
    }

    /// <summary>The LoRA slots' residency (null when the model has no slots).</summary>
    public Lora.LoraResidency? Adapters { get; }

    public void Execute(StepPlan plan, List<(Sequence Seq, int Token)> sampled)
    {
        sampled.Clear();
        // Out before in: a block swapped out may be the destination of a swap-in of the same step.
        SwapBlocks(plan.SwapOut, SwapDirection.Out);
        SwapBlocks(plan.SwapIn, SwapDirection.In);
        _upload.Clear();
        long pairs = StageCopyPairs(plan.Copies);
        if (plan.IsEmpty)
        {
            _upload.Flush();
            CopyBlocks(plan.Copies.Count, pairs);
            return;
        }

        _batch.Clear();
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            var tokens = CollectionsMarshal.AsSpan(seq.TokenList).Slice(chunk.Start, chunk.Count);
            var table = CollectionsMarshal.AsSpan(seq.BlockTable);
            int last = _batch.AddSequence(tokens, chunk.Start, table, _blockSize, Adapters?.SlotOf(seq.Request.Adapter) ?? -1);
            if (!chunk.Samples)
                continue;
            _batch.AddLogitRow(last);
            foreach (var _ in seq.PendingForks)
                _batch.AddLogitRow(last);
        }

        // Sample on the device where the logits are; only tokens and logprobs come back.
        _sampling.Clear();
        foreach (var chunk in plan.Chunks)
        {
            if (!chunk.Samples)
                continue;

            // n > 1: the siblings forked at this first sample draw from duplicates of the parent's row.
            _sampling.Add(chunk.Sequence);
            foreach (var child in chunk.Sequence.PendingForks)
                _sampling.Add(child);
        }

        _model.Stage(_batch, _upload);
        _sampling.Stage(_upload);
        _upload.Flush(); // one host-to-device copy, no wait
        CopyBlocks(plan.Copies.Count, pairs);
        _model.Forward(_batch, _cache);
        _sampling.Run(_model.LogitsAddress, _vocab, sampled); // the step's one wait: tokens come back
    }

    /// <summary>All swaps of one direction in one block_swap call (pairs in host memory).</summary>
    private unsafe void SwapBlocks(List<BlockMove> moves, SwapDirection direction)
    {
        if (moves.Count == 0)
            return;
        FillPairs(moves);
        fixed (int* p = _pairs)
        {
            _model.Context.BlockSwap(new BlockSwapArgs
            {
                Cache = _cache.Descriptor, Host = _host.Pool.Address, Pairs = (nint)p,
                NumHostBlocks = _host.NumSlots, NumPairs = moves.Count, Direction = direction,
            });
        }
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

    /// <summary>Stages the step's copy-on-write pairs (device memory, paged.h); -1 when there are none.</summary>
    private long StageCopyPairs(List<BlockMove> copies)
    {
        if (copies.Count == 0)
            return -1;
        FillPairs(copies);
        return _upload.Stage<int>(_pairs.AsSpan(0, 2 * copies.Count));
    }

    /// <summary>All copy-on-write pairs of the step in one block_copy call (after the upload's flush).</summary>
    private void CopyBlocks(int count, long pairs)
    {
        if (count == 0)
            return;
        _model.Context.BlockCopy(new BlockCopyArgs { Cache = _cache.Descriptor, Pairs = _upload.Address(pairs), NumPairs = count });
    }

    public void Dispose()
    {
        _upload.Dispose();
        _sampling.Dispose();
        _host.Dispose();
        _model.Dispose();
        _cache.Dispose();
        _context?.Dispose();
    }
}
