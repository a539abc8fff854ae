using Paged.Models;
using Paged.Runtime;

namespace Paged.Engine;

/// <summary>
/// Decode-only steps through captured graphs, one per batch-size bucket (vLLM's CUDA graphs): the batch is padded to
/// its bucket (<see cref="CudaGraphModes.CaptureSizes"/>) with dummy sequences -- token 0 at position 0, slot -1 (the
/// cache write skips it), one cached token read from block 0, an ignored logits row -- and its attention launch shape
/// is fixed by a max_seq_len of the engine's context. Everything the graph reads sits at fixed device addresses: the
/// model's workspace and weights, the KV cache, and the step's index arrays, staged first into the step's one upload
/// (so at fixed offsets for a bucket) whose device address is checked every step (a new one drops the graphs).
/// Capture is lazy: a bucket's first step runs eagerly with the graph's exact arguments (which sizes the ops' scratch,
/// as vLLM's warm-up runs do), its second is captured and replayed, later ones replay. Start-up capture would need
/// dummy KV blocks and costs the capture of buckets a workload may never use. Sampling stays eager (its lists vary in
/// length every step). Graphs are dropped when the weights are replaced (they name the old buffers); LoRA slots are
/// updated in place, and whether the step has adapters (whether lora ops run at all) is part of the key.
/// </summary>
internal sealed class CudaGraphRunner : IDisposable
{
    private readonly ICausalLM _model;
    private readonly int _maxSeqLen;
    private readonly IReadOnlyList<int> _sizes;
    private readonly Dictionary<(int Size, bool Adapters), DeviceGraph> _graphs = [];
    private readonly HashSet<(int Size, bool Adapters)> _warm = []; // keys that ran eagerly once (their scratch is sized)
    private nint _inputs; // device address the graphs read the step's index arrays from
    private bool _unsupported; // no graphs on this backend, or a capture failed: every step eager

    public CudaGraphRunner(ICausalLM model, int maxContext)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _maxSeqLen = maxContext;
        _sizes = CudaGraphModes.CaptureSizes(model.MaxSeqs);
    }

    /// <summary>Graphs captured so far (all buckets, live ones).</summary>
    public int Captured => _graphs.Count;

    /// <summary>
    /// When <paramref name="batch"/> is a decode step a graph can run (every sequence one token with its logits row, no
    /// other rows wanted), pads it to its bucket and returns true; else leaves it alone (the step runs eagerly).
    /// </summary>
    public bool TryPad(StepBatch batch, bool otherRowsWanted)
    {
        int n = batch.NumSeqs;
        if (_unsupported || otherRowsWanted || !batch.IsDecodeOnly || batch.NumLogitRows != n || n == 0 || n > _sizes[^1])
            return false;
        int size = _sizes.First(s => s >= n);
        int w = batch.MaxBlocksPerSeq;
        for (int s = n; s < size; s++)
        {
            batch.TokenIds[s] = 0;
            batch.Positions[s] = 0;
            batch.SlotMapping[s] = -1;
            batch.AdapterSlots[s] = -1;
            batch.SeqLens[s] = 1;
            batch.QueryStart[s + 1] = s + 1;
            batch.LogitRows[s] = s;
            batch.BlockTables.AsSpan(s * w, w).Clear();
        }

        batch.NumTokens = batch.NumSeqs = batch.NumLogitRows = size;
        batch.MaxSeqLen = _maxSeqLen;
        return true;
    }

    /// <summary>
    /// The forward pass of a padded decode batch whose index arrays were staged first into the upload at
    /// <paramref name="inputs"/> (flushed): replays its bucket's graph, or runs it eagerly (first use) or captures it.
    /// </summary>
    public void Forward(StepBatch batch, KvCache cache, nint inputs)
    {
        if (inputs != _inputs)
        {
            DropGraphs(); // the upload's device buffer grew: the graphs read the old one
            _inputs = inputs;
        }

        var key = (batch.NumSeqs, batch.HasAdapters);
        if (_graphs.TryGetValue(key, out var graph))
        {
            graph.Launch();
            return;
        }

        if (_warm.Add(key))
        {
            _model.Forward(batch, cache); // first use: eager, with the graph's arguments
            return;
        }

        if (!_model.Context.TryBeginCapture())
        {
            _unsupported = true; // the cpu backend: no graphs, later steps are not padded
            _model.Forward(batch, cache);
            return;
        }

        bool ended = false;
        try
        {
            _model.Forward(batch, cache); // recorded, not run
            ended = true;
            graph = _model.Context.EndCapture();
        }
        catch (BackendException e)
        {
            // Either the step's input is bad (the eager run below fails the same way, as without graphs) or
            // something in the forward pass cannot be captured: then the step runs eagerly and so do later ones.
            if (!ended)
                EndCaptureQuietly();
            _model.Forward(batch, cache);
            _unsupported = true;
            DropGraphs();
            DisabledReason = e.Message;
            return;
        }
        catch
        {
            if (!ended)
                EndCaptureQuietly();
            throw;
        }

        _graphs[key] = graph;
        graph.Launch();
    }

    /// <summary>Why graphs were turned off for this engine (a capture failed where the eager step ran), else null.</summary>
    public string? DisabledReason { get; private set; }

    private void EndCaptureQuietly()
    {
        try
        {
            _model.Context.EndCapture().Dispose();
        }
        catch (BackendException)
        {
            // the capture is void after a refused call: nothing to keep
        }
    }

    /// <summary>Drops every graph (the weights were replaced: the graphs name the old buffers); buckets capture again on use.</summary>
    public void DropGraphs()
    {
        foreach (var g in _graphs.Values)
            g.Dispose();
        _graphs.Clear();
    }

    public void Dispose() => DropGraphs();
}
