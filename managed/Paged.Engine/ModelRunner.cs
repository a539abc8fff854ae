using Paged.Models;
using Paged.Models.Llama;

namespace Paged.Engine;

/// <summary>Executes a <see cref="StepPlan"/>: builds the flat batch, runs the model, samples tokens.</summary>
internal sealed class ModelRunner : IDisposable
{
    private readonly LlamaModel _model;
    private readonly KvCache _cache;
    private readonly StepBatch _batch;
    private readonly SamplingBatch _sampling;
    private readonly int _blockSize;
    private readonly int _vocab;

    public ModelRunner(LlamaModel model, KvCache cache)
    {
        _sampling = new SamplingBatch(model.Context, model.Config.StopTokenIds);
        _model = model;
        _cache = cache;
        _blockSize = cache.BlockSize;
        _vocab = model.Config.VocabSize;
        _batch = new StepBatch(model.MaxTokens, model.MaxSeqs, model.MaxBlocksPerSeq);
    }

    /// <summary>Runs one step; <paramref name="sampled"/>[i] receives the token of the i-th sampling chunk.</summary>
    public void Execute(StepPlan plan, List<(Sequence Seq, int Token)> sampled)
    {
        _batch.Clear();
        sampled.Clear();
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.TokenList).Slice(chunk.Start, chunk.Count);
            var table = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.BlockTable);
            int last = _batch.AddSequence(tokens, chunk.Start, table, _blockSize);
            if (chunk.Samples)
                _batch.AddLogitRow(last);
        }

        _model.Forward(_batch, _cache);

        // Sample on the device where the logits are; only tokens and logprobs come back.
        _sampling.Clear();
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            seq.NumComputed = chunk.Start + chunk.Count;
            if (chunk.Samples)
                _sampling.Add(seq);
        }

        _sampling.Run(_model.LogitsAddress, _vocab, sampled);
    }

    public void Dispose()
    {
        _sampling.Dispose();
        _model.Dispose();
        _cache.Dispose();
    }
}
