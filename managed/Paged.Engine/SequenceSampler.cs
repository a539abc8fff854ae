using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Engine;

/// <summary>
/// Turns the sequences that sample in a step into rows of the fused sample op (per-row parameters,
/// seed, step = tokens generated so far, penalty history, stop ids for min_tokens, logit bias), runs
/// it on the logits where the forward pass left them, and hands back each row's token, logprobs or error.
/// </summary>
internal sealed class SequenceSampler : IDisposable
{
    private readonly SampleOpBatch _op;
    private readonly IReadOnlyList<int> _modelStopIds;
    private readonly List<SampleRow> _rows = [];
    private readonly List<Sequence> _seqs = [];

    public SequenceSampler(DeviceContext context, IReadOnlyList<int> modelStopIds)
    {
        _op = new SampleOpBatch(context);
        _modelStopIds = modelStopIds;
    }

    private bool _staged;

    public void Clear()
    {
        _rows.Clear();
        _seqs.Clear();
        _staged = false;
    }

    /// <summary>Stages the added rows' parameters into the step's packed upload (flushed by the caller before <see cref="Run"/>).</summary>
    public void Stage(StagingBuffer upload)
    {
        if (_rows.Count == 0)
            return;
        _op.Stage(upload, _rows);
        _staged = true;
    }

    public void Add(Sequence seq)
    {
        var p = seq.Sampling;
        IReadOnlyList<int>? stops = null;
        if (p.MinTokens > seq.NumGenerated)
            stops = p.IgnoreEos ? p.StopTokenIds : [.. _modelStopIds, .. p.StopTokenIds];
        _rows.Add(new SampleRow
        {
            Temperature = p.Temperature,
            TopK = p.TopK,
            TopP = p.TopP,
            MinP = p.MinP,
            RepetitionPenalty = p.RepetitionPenalty,
            FrequencyPenalty = p.FrequencyPenalty,
            PresencePenalty = p.PresencePenalty,
            MinTokens = p.MinTokens,
            StopIds = stops,
            LogitBias = p.LogitBias,
            Seed = seq.Seed,
            Seeded = p.Seed is not null,
            Step = seq.NumGenerated,
            NumLogprobs = p.Logprobs ?? 0,
            ProcessedLogprobs = p.ProcessedLogprobs,
            Rank = p.Logprobs is not null,
            History = seq.TokenList,
            PromptLength = seq.PromptTokenIds.Count,
        });
        _seqs.Add(seq);
    }

    /// <summary>
    /// Samples every added row from <paramref name="logits"/> ([rows, vocab] on the device) and appends
    /// (sequence, token) to <paramref name="sampled"/>; a failed row gets token -1 and its sequence an error message.
    /// </summary>
    public void Run(nint logits, int vocab, List<(Sequence Seq, int Token)> sampled)
    {
        if (_rows.Count == 0)
            return;
        if (_staged)
            _op.RunStaged(logits, vocab, vocab);
        else
            _op.Run(logits, vocab, vocab, _rows);
        _staged = false;
        for (int i = 0; i < _seqs.Count; i++)
        {
            var seq = _seqs[i];
            var status = _op.Status[i];
            if (status != SampleRowStatus.Ok)
            {
                seq.Error = status == SampleRowStatus.NonFinite
                    ? $"NaN or infinite logits at generated token {seq.NumGenerated} (from the model, or after logit bias and penalties)"
                    : $"no token can be sampled at generated token {seq.NumGenerated} (every token is masked)";
                sampled.Add((seq, -1));
                continue;
            }

            int token = _op.Tokens[i];
            if (seq.Sampling.Logprobs is int n)
            {
                var top = new List<LogprobEntry>(n);
                if (n > 0) // no top-N block is read back when no row of the step asked for alternatives
                {
                    var ids = _op.TopIds(i, n);
                    var lps = _op.TopLogprobs(i, n);
                    for (int k = 0; k < n && ids[k] >= 0; k++)
                        top.Add(new LogprobEntry(ids[k], lps[k]));
                }
                (seq.Logprobs ??= []).Add(new TokenLogprobs(token, _op.Logprobs[i], top) { Rank = _op.Ranks[i] });
            }

            sampled.Add((seq, token));
        }
    }

    public void Dispose() => _op.Dispose();
}
