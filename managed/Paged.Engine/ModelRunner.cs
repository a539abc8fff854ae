using System.Runtime.InteropServices;
using Paged.Engine.Kv;
using Paged.Models;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Engine;

/// <summary>Executes a <see cref="StepPlan"/> on the model: block moves (through <see cref="KvBlockMover"/>), the batched forward pass, sampling.</summary>
internal sealed class ModelRunner : IModelExecutor
{
    private readonly DeviceContext? _context;
    private readonly ICausalLM _model;
    private readonly KvCache _cache;
    private readonly KvBlockMover _mover;
    private readonly StepBatch _batch;
    private readonly SequenceSampler _sampling;
    private readonly PromptLogprobsCollector _promptLogprobs = new();
    private readonly int _blockSize;
    private readonly int _vocab;
    // The step's one packed host-to-device copy: copy pairs, the forward pass's index arrays and the
    // sampling parameters (paged.h: all device memory), staged in page-locked memory.
    private readonly StagingBuffer _upload;
    private readonly CudaGraphRunner? _graphs; // decode steps through captured graphs (null: every step eager)

    /// <summary>Opens the backend, allocates the KV cache and uploads the model; the runner owns all three.</summary>
    public static ModelRunner Create(ModelWeights weights, EngineOptions options, EngineShape shape)
    {
        var config = weights.Config;
        var context = Backend.Load(options.Device).CreateContext(options.NumThreads);
        KvCache? cache = null;
        ICausalLM? model = null;
        try
        {
            cache = new KvCache(context, shape.NumKvBlocks, config.NumLayers, config.NumKvHeads, options.BlockSize, config.HeadSize,
                KvCacheDTypes.Resolve(options.KvCacheDType));
            model = ModelRegistry.Create(context, weights, new ModelCapacity(shape.MaxBatchedTokens, options.MaxNumSeqs, shape.MaxBlocksPerSeq)
            {
                BatchInvariant = options.BatchInvariant,
                MaxLoras = options.MaxLoras,
                MaxLoraRank = options.MaxLoraRank,
                LoraDType = options.LoraDType,
            });
            var graphs = CudaGraphModes.Enabled(options.CudaGraphs, context.Backend.Name) ? new CudaGraphRunner(model, shape.MaxContext) : null;
            return new ModelRunner(model, cache, shape.SwapSlots, context, graphs);
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

    /// <summary>Whole-block moves of this runner's cache (copy-on-write, swap, transfer export and import).</summary>
    internal KvBlockMover Mover => _mover;

    /// <summary>The backend's cumulative waits, launches and copies.</summary>
    public Paged.Runtime.Interop.BackendCounters BackendCounters => _model.Context.Counters;

    public ModelRunner(ICausalLM model, KvCache cache, int swapSlots, DeviceContext? ownedContext = null, CudaGraphRunner? graphs = null)
    {
        _context = ownedContext;
        _graphs = graphs;
        _sampling = new SequenceSampler(model.Context, model.Config.StopTokenIds);
        _model = model;
        _cache = cache;
        _mover = new KvBlockMover(model.Context, cache, swapSlots);
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
        _mover.Swap(plan.SwapOut, SwapDirection.Out);
        _mover.Swap(plan.SwapIn, SwapDirection.In);
        _mover.Load(plan.Loads); // into blocks allocated this step: no copy-on-write or swap of this step touches them
        _upload.Clear();
        if (plan.IsEmpty)
        {
            long copyPairs = _mover.StageCopyPairs(plan.Copies, _upload);
            _upload.Flush();
            _mover.Copy(plan.Copies.Count, copyPairs, _upload);
            return;
        }

        _batch.Clear();
        _promptLogprobs.Clear();
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            var tokens = CollectionsMarshal.AsSpan(seq.TokenList).Slice(chunk.Start, chunk.Count);
            var table = CollectionsMarshal.AsSpan(seq.BlockTable);
            int last = _batch.AddSequence(tokens, chunk.Start, table, _blockSize, Adapters?.SlotOf(seq.Request.Adapter) ?? -1);
            _promptLogprobs.Add(seq, chunk.Start, chunk.Count, last - chunk.Count + 1);
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

        bool graphed = _graphs?.TryPad(_batch, _promptLogprobs.HasRows) ?? false;
        _model.Stage(_batch, _upload); // first: a graph reads these arrays at fixed offsets of the upload
        long pairs = _mover.StageCopyPairs(plan.Copies, _upload);
        _sampling.Stage(_upload);
        _upload.Flush(); // one host-to-device copy, no wait
        _mover.Copy(plan.Copies.Count, pairs, _upload);
        if (graphed)
            _graphs!.Forward(_batch, _cache, _upload.Address(0));
        else
            _model.Forward(_batch, _cache);
        _sampling.Run(_model.LogitsAddress, _vocab, sampled); // the step's one wait: tokens come back
        _promptLogprobs.Run(_model, _vocab); // only when a request asked for prompt logprobs
    }

    /// <summary>Replaces the model's weights (between steps); see <see cref="ICausalLM.ReplaceWeights"/>.</summary>
    public void ReplaceWeights(ModelWeights weights)
    {
        _graphs?.DropGraphs(); // they name the old weights' buffers
        _model.ReplaceWeights(weights);
    }

    /// <summary>Graphs captured and alive (0 when graphs are off).</summary>
    internal int CapturedGraphs => _graphs?.Captured ?? 0;

    public void Dispose()
    {
        _graphs?.Dispose();
        _upload.Dispose();
        _sampling.Dispose();
        _mover.Dispose();
        _model.Dispose();
        _cache.Dispose();
        _context?.Dispose();
    }
}
