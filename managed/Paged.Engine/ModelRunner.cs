using Paged.Models;
using Paged.Models.Llama;

namespace Paged.Engine;

/// <summary>Executes a <see cref="StepPlan"/>: builds the flat batch, runs the model, samples tokens.</summary>
internal sealed class ModelRunner : IDisposable
{
    private readonly LlamaModel _model;
    private readonly KvCache _cache;
    private readonly StepBatch _batch;
    private readonly Sampler _sampler = new();
    private readonly float[] _logits;
    private readonly int _blockSize;
    private readonly int _vocab;

    public ModelRunner(LlamaModel model, KvCache cache)
    {
        _model = model;
        _cache = cache;
        _blockSize = cache.BlockSize;
        _vocab = model.Config.VocabSize;
        _batch = new StepBatch(model.MaxTokens, model.MaxSeqs, model.MaxBlocksPerSeq);
        _logits = new float[model.MaxSeqs * _vocab];
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

        _model.Forward(_batch, _cache, _logits);

        int row = 0;
        foreach (var chunk in plan.Chunks)
        {
            var seq = chunk.Sequence;
            seq.NumComputed = chunk.Start + chunk.Count;
            if (!chunk.Samples)
                continue;
            var logits = _logits.AsSpan(row * _vocab, _vocab);
            sampled.Add((seq, _sampler.Sample(logits, seq.Sampling, seq.Random)));
            row++;
        }
    }

    public void Dispose()
    {
        _model.Dispose();
        _cache.Dispose();
    }
}
