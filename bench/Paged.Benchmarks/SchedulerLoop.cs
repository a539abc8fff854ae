using Paged.Engine;
using Paged.Engine.Scheduling;

namespace Paged.Benchmarks;

/// <summary>
/// The engine's step loop around a <see cref="Scheduler"/> without a model: every sampling chunk
/// "samples" a fixed token, sequences finish at their max_tokens. Finished requests can be recycled
/// (reset to their prompt and queued again) so a steady state runs without allocating.
/// </summary>
internal sealed class SchedulerLoop
{
    private readonly List<(Sequence Seq, int Token)> _sampled = [];
    private readonly List<Sequence> _finished = [];
    private long _nextRequest;
    private long _nextSeq;

    public SchedulerLoop(SchedulerConfig config) => Scheduler = new Scheduler(config);

    public Scheduler Scheduler { get; }

    public bool Recycle { get; init; }

    public long PromptTokensComputed { get; private set; }

    public long Steps { get; private set; }

    public int Finished { get; private set; }

    public Request Add(int[] prompt, int maxTokens)
    {
        var r = new Request(_nextRequest++, "", prompt, new SamplingParams { MaxTokens = maxTokens, IgnoreEos = true }, 0);
        r.CreateSequences(1, ref _nextSeq);
        Scheduler.Add(r);
        return r;
    }

    /// <summary>One step: schedule, "execute", bookkeeping. Returns the plan.</summary>
    public StepPlan Step()
    {
        var plan = Scheduler.Schedule();
        _sampled.Clear();
        foreach (var chunk in plan.Chunks)
        {
            if (!chunk.Samples)
                continue;
            _sampled.Add((chunk.Sequence, 7));
            foreach (var child in chunk.Sequence.PendingForks)
                _sampled.Add((child, 7));
        }

        Scheduler.CompleteStep(plan, _sampled);
        PromptTokensComputed += plan.NumPromptTokens;
        Steps++;
        _finished.Clear();
        foreach (var (seq, _) in _sampled)
        {
            if (seq.NumGenerated >= seq.Sampling.MaxTokens)
                _finished.Add(seq);
        }

        foreach (var seq in _finished)
        {
            Scheduler.Finish(seq);
            Finished++;
            if (Recycle)
            {
                seq.ResetForReuse(Scheduler.Config.BlockSize);
                Scheduler.Add(seq.Request);
            }
        }

        return plan;
    }
}
