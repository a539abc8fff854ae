using Paged.Models;

namespace Paged.Engine;

/// <summary>
/// Prompt logprobs (vLLM's prompt_logprobs): for each prompt position p of a step's chunks whose next token is still
/// in the prompt, the logits at p give the logprob of token p + 1. After the step's sampling, the model projects those
/// rows (at most <see cref="ICausalLM.MaxSeqs"/> at a time) from the residual stream it kept, and the host turns each
/// row into a log-softmax in a fixed order (<see cref="LogSoftmaxRow"/>), so a row's values never depend on the batch.
/// Positions are filled by index, so a chunk recomputed after preemption rewrites the same values.
/// </summary>
internal sealed class PromptLogprobsCollector
{
    private readonly List<(Request Request, int Position, int TokenIndex)> _rows = [];
    private int[] _indices = [];
    private float[] _logits = [];

    /// <summary>Notes the chunk's prompt positions (sequence 0 of a request that asked for prompt logprobs).</summary>
    public void Add(Sequence seq, int start, int count, int firstTokenIndex)
    {
        if (seq.Sampling.PromptLogprobs is null || seq.Index != 0)
            return;
        int promptLength = seq.PromptTokenIds.Count;
        seq.Request.PromptLogprobs ??= new TokenLogprobs?[promptLength];
        for (int i = 0; i < count && start + i + 1 < promptLength; i++)
            _rows.Add((seq.Request, start + i, firstTokenIndex + i));
    }

    public void Clear() => _rows.Clear();

    /// <summary>Whether this step noted prompt positions (their rows are projected after the step).</summary>
    public bool HasRows => _rows.Count > 0;

    /// <summary>Projects the noted rows through the model and stores each logprob in its request (after the step's sampling).</summary>
    public void Run(ICausalLM model, int vocab)
    {
        if (_rows.Count == 0)
            return;
        int per = model.MaxSeqs;
        if (_indices.Length < per)
            _indices = new int[per];
        if (_logits.Length < per * vocab)
            _logits = new float[per * vocab];
        for (int at = 0; at < _rows.Count; at += per)
        {
            int n = Math.Min(per, _rows.Count - at);
            for (int i = 0; i < n; i++)
                _indices[i] = _rows[at + i].TokenIndex;
            model.ProjectRows(_indices.AsSpan(0, n));
            var logits = _logits.AsSpan(0, n * vocab);
            model.Context.CopyToHost(logits, model.LogitsAddress);
            for (int i = 0; i < n; i++)
            {
                var (request, position, _) = _rows[at + i];
                int target = request.PromptTokenIds[position + 1];
                request.PromptLogprobs![position + 1] = LogSoftmaxRow(logits.Slice(i * vocab, vocab), target, request.Sampling.PromptLogprobs ?? 0);
            }
        }

        _rows.Clear();
    }

    /// <summary>
    /// The logprob and rank of <paramref name="target"/> and the <paramref name="top"/> most likely tokens (descending, ties
    /// to the lower id) of one row of raw logits: log-softmax with max and sum of exponentials accumulated in double precision,
    /// in index order (a fixed order: the same row always gives the same bits).
    /// </summary>
    public static TokenLogprobs LogSoftmaxRow(ReadOnlySpan<float> logits, int target, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float x in logits)
            max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits)
            sum += Math.Exp((double)x - max);
        double logZ = max + Math.Log(sum);

        var best = new List<LogprobEntry>(top);
        for (int id = 0; id < logits.Length && top > 0; id++)
        {
            float x = logits[id];
            if (best.Count == top && !(x > logits[best[^1].TokenId]))
                continue;
            int at = best.Count;
            while (at > 0 && x > logits[best[at - 1].TokenId])
                at--;
            best.Insert(at, new LogprobEntry(id, 0));
            if (best.Count > top)
                best.RemoveAt(top);
        }

        for (int i = 0; i < best.Count; i++)
            best[i] = best[i] with { Logprob = (float)(logits[best[i].TokenId] - logZ) };
        int above = 0; // logprobs are increasing in the logits: larger logits are larger logprobs
        foreach (float x in logits)
            above += x > logits[target] ? 1 : 0;
        return new TokenLogprobs(target, (float)(logits[target] - logZ), best) { Rank = above + 1 };
    }
}
