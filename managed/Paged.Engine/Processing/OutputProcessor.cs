using System.Diagnostics;
using System.Runtime.InteropServices;
using Paged.Models.Tokenization;

namespace Paged.Engine;

/// <summary>
/// The output processor: turns each step's sampled tokens into text (incremental detokenization, stop strings,
/// held-back tails) and builds per-request outputs that carry both the snapshot so far and the step's deltas
/// (new text, new token ids, their logprobs, finish and stop reason). Runs on the engine's thread.
/// </summary>
internal sealed class OutputProcessor(ITokenizer tokenizer)
{
    private readonly Dictionary<Sequence, SequenceText> _texts = [];

    public void Add(Request request)
    {
        foreach (var seq in request.Sequences)
            _texts.Add(seq, new SequenceText(new StreamingDetokenizer(tokenizer), request.Sampling.Stop));
    }

    public void Remove(Request request)
    {
        foreach (var seq in request.Sequences)
            _texts.Remove(seq);
    }

    /// <summary>Applies the step's tokens; a sequence whose text now holds a stop string finishes (through <paramref name="finish"/>, which frees its blocks).</summary>
    public void Process(CoreStepResult step, Action<Sequence> finish)
    {
        foreach (var (seq, token) in step.Sampled)
        {
            if (token < 0 || !_texts.TryGetValue(seq, out var text))
                continue;

            // Before this, only the core sets Stop: the token is an end-of-sequence or stop token id, whose text is not output.
            string? stop = seq.FinishReason == FinishReason.Stop ? text.Flush() : text.Append(token, last: seq.FinishReason != FinishReason.None);
            if (stop is null)
                continue;
            seq.FinishReason = FinishReason.Stop;
            seq.StopString = stop;
            seq.StopTokenId = null;
            finish(seq);
        }
    }

    /// <summary>The request's output after this step; a finished request's text state is dropped.</summary>
    public RequestOutput Snapshot(Request request)
    {
        var completions = new CompletionOutput[request.Sequences.Count];
        int preemptions = 0;
        for (int i = 0; i < completions.Length; i++)
        {
            var seq = request.Sequences[i];
            completions[i] = Completion(seq);
            preemptions += seq.Preemptions;
        }

        bool finished = request.IsFinished;
        if (finished)
            Remove(request);
        var first = completions[0];
        return new RequestOutput
        {
            RequestId = request.Id,
            ExternalId = request.ExternalId ?? request.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Prompt = request.Prompt,
            PromptTokenIds = request.PromptTokenIds,
            TokenIds = first.TokenIds,
            Text = first.Text,
            TextDelta = first.TextDelta,
            FinishReason = first.FinishReason,
            Finished = finished,
            Completions = completions,
            CachedPromptTokens = request.CachedPromptTokens,
            Error = request.Sequences.Select(s => s.Error).FirstOrDefault(e => e is not null),
            Logprobs = first.Logprobs,
            Timings = Timings(request, preemptions),
            PromptLogprobs = request.PromptLogprobs?.ToArray(),
            WeightVersion = request.WeightVersion,
        };
    }

    private CompletionOutput Completion(Sequence seq)
    {
        bool final = seq.FinishReason != FinishReason.None || seq.Status == SequenceStatus.Finished;
        string delta = "";
        string text = "";
        int tokensReported = 0;
        int logprobsReported = 0;
        if (_texts.TryGetValue(seq, out var state))
        {
            delta = state.TakeDelta(final);
            text = state.Streamed;
            tokensReported = state.TokensReported;
            logprobsReported = state.LogprobsReported;
            state.TokensReported = seq.NumGenerated;
            state.LogprobsReported = seq.Logprobs?.Count ?? 0;
        }

        var generated = CollectionsMarshal.AsSpan(seq.TokenList)[seq.PromptTokenIds.Count..];
        var logprobs = seq.Logprobs?.ToArray();
        return new CompletionOutput(seq.Index, generated.ToArray(), text, delta, seq.FinishReason)
        {
            NewTokenIds = generated[Math.Min(tokensReported, generated.Length)..].ToArray(),
            Logprobs = logprobs,
            NewLogprobs = logprobs?[Math.Min(logprobsReported, logprobs.Length)..],
            StopString = seq.StopString,
            StopTokenId = seq.StopTokenId,
            Seed = seq.Seed,
        };
    }

    private static RequestTimings Timings(Request request, int preemptions)
    {
        double f = Stopwatch.Frequency;
        double Since(long t) => (t - request.ArrivalTicks) / f;
        return new RequestTimings(
            request.ScheduledTicks is long s ? Since(s) : 0,
            request.FirstTokenTicks is long t ? Since(t) : null,
            request.FinishedTicks is long e ? Since(e) : null,
            preemptions)
        {
            ArrivalTime = request.ArrivalTime,
            Scheduled = request.ScheduledTicks is not null,
        };
    }
}
