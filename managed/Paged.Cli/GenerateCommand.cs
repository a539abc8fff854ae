using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Paged.Engine;

namespace Paged.Cli;

/// <summary><c>paged generate</c>: batch generation over every prompt, results in input order.</summary>
internal static class GenerateCommand
{
    public static int Run(GenerateOptions o)
    {
        var prompts = PromptSource.Read(o);
        using var engine = EngineFactory.CreateEngine(o, EngineFactory.ToEngineOptions(o), needsTokenizer: prompts.Any(p => p.Ids is null));
        // A value on the command line wins, then the checkpoint's generation_config.json, then the engine default.
        var defaults = SamplingDefaults.For(engine.Config);
        var sampling = defaults with
        {
            Temperature = o.Temperature ?? defaults.Temperature,
            TopK = o.TopK ?? defaults.TopK,
            TopP = o.TopP ?? defaults.TopP,
            MinP = o.MinP ?? defaults.MinP,
            RepetitionPenalty = o.RepetitionPenalty ?? defaults.RepetitionPenalty,
            FrequencyPenalty = o.FrequencyPenalty,
            PresencePenalty = o.PresencePenalty,
            MinTokens = o.MinTokens,
            Logprobs = o.Logprobs,
            PromptLogprobs = o.PromptLogprobs,
            ProcessedLogprobs = o.ProcessedLogprobs,
            Seed = o.Seed,
            MaxTokens = o.MaxTokens,
            Stop = [.. o.Stop],
            N = o.N,
        };
        sampling.Validate();
        var requests = prompts.Select(p => new GenerationRequest
        {
            Prompt = p.Prompt, PromptTokenIds = p.Ids, Sampling = sampling with { N = p.N ?? sampling.N, PromptLogprobs = p.PromptLogprobs ?? sampling.PromptLogprobs },
            Attributes = p.Attributes,
            Lora = p.Lora,
        }).ToList();
        foreach (var r in requests)
            r.Sampling.Validate();
        var interval = BatchProgress.IntervalOption(o.ProgressInterval);

        // Progress for batches only: one prompt has nothing to count.
        var progress = new BatchProgress(requests.Count, requests.Count > 1 ? BatchProgress.Choose(o.NoProgress) : ProgressMode.Off, interval);
        var start = Stopwatch.GetTimestamp();
        var results = progress.Run(() => engine.Generate(requests, r => progress.Finished(r.Completions.Sum(c => (long)c.TokenIds.Count))));
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        using (var output = OpenOutput(o.Output))
        {
            foreach (var r in results)
            {
                if (o.Format == OutputFormat.Jsonl)
                    WriteJson(output, r);
                else
                {
                    foreach (var c in r.Completions)
                        output.Write($"{r.Prompt}{c.Text}\n\n");
                    if (r.Error is not null)
                        Console.Error.WriteLine($"request {r.RequestId} failed: {r.Error}");
                }
            }
        }

        long generated = results.Sum(r => r.Completions.Sum(c => (long)c.TokenIds.Count));
        long promptTokens = results.Sum(r => (long)r.PromptTokenIds.Count);
        Console.Error.WriteLine(
            $"{results.Count} prompts, {promptTokens} prompt tokens, {generated} generated tokens in {seconds:F3} s: " +
            $"{generated / seconds:F1} tok/s ({engine.DeviceName}, {engine.Counters.Steps} steps, {engine.Counters.Preemptions} preemptions, " +
            $"prefix cache hit rate {engine.Counters.PrefixHitRate:P0}, {engine.Counters.PromptTokensComputed} prompt tokens computed)");
        return 0;
    }

    private static StreamWriter OpenOutput(string? path) =>
        path is null ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false }
        : new StreamWriter(path, append: false, new UTF8Encoding(false));

    private static void WriteJson(TextWriter output, RequestOutput r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("prompt", r.Prompt);
            WriteInts(w, "prompt_token_ids", r.PromptTokenIds);
            WriteInts(w, "token_ids", r.TokenIds);
            w.WriteString("text", r.Text);
            w.WriteString("finish_reason", Reason(r.FinishReason));
            WriteStopReason(w, r.Completions[0]);
            if (r.Error is not null)
                w.WriteString("error", r.Error);
            if (r.Logprobs is not null)
                WriteLogprobs(w, "logprobs", r.Logprobs);
            if (r.PromptLogprobs is not null)
                WriteLogprobs(w, "prompt_logprobs", r.PromptLogprobs);
            w.WriteNumber("weight_version", r.WeightVersion);
            w.WriteStartArray("completions");
            foreach (var c in r.Completions)
            {
                w.WriteStartObject();
                w.WriteNumber("index", c.Index);
                WriteInts(w, "token_ids", c.TokenIds);
                w.WriteString("text", c.Text);
                w.WriteString("finish_reason", Reason(c.FinishReason));
                WriteStopReason(w, c);
                w.WriteNumber("seed", c.Seed);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteNumber("cached_prompt_tokens", r.CachedPromptTokens);
            w.WriteStartObject("timings");
            w.WriteNumber("queue_s", Math.Round(r.Timings.QueueSeconds, 6));
            if (r.Timings.FirstTokenSeconds is double ttft)
                w.WriteNumber("ttft_s", Math.Round(ttft, 6));
            if (r.Timings.FinishedSeconds is double total)
                w.WriteNumber("total_s", Math.Round(total, 6));
            if (r.Timings.TimePerOutputToken(r.TokenIds.Count) is double tpot)
                w.WriteNumber("tpot_s", Math.Round(tpot, 6));
            w.WriteNumber("preemptions", r.Timings.PreemptionCount);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        output.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        output.Write('\n');
    }

    // vLLM's stop_reason: the stop string or requested stop token id that ended the text (null otherwise).
    private static void WriteStopReason(Utf8JsonWriter w, CompletionOutput c)
    {
        if (c.StopString is not null)
            w.WriteString("stop_reason", c.StopString);
        else if (c.StopTokenId is int id)
            w.WriteNumber("stop_reason", id);
        else
            w.WriteNull("stop_reason");
    }

    internal static string Reason(FinishReason r) => r switch
    {
        FinishReason.Length => "length",
        FinishReason.Error => "error",
        FinishReason.Abort => "abort",
        _ => "stop",
    };

    // "logprobs": one entry per generated token: {"token": id, "logprob": x, "top": [{"token": id, "logprob": x}, ...]};
    // "prompt_logprobs": the same per prompt token, null for the first (nothing precedes it).
    internal static void WriteLogprobs(Utf8JsonWriter w, string name, IEnumerable<TokenLogprobs?> logprobs)
    {
        w.WriteStartArray(name);
        foreach (var t in logprobs)
        {
            if (t is null)
            {
                w.WriteNullValue();
                continue;
            }

            w.WriteStartObject();
            w.WriteNumber("token", t.TokenId);
            WriteLogprob(w, t.Logprob);
            w.WriteNumber("rank", t.Rank);
            w.WriteStartArray("top");
            int rank = 1;
            foreach (var e in t.Top)
            {
                w.WriteStartObject();
                w.WriteNumber("token", e.TokenId);
                WriteLogprob(w, e.Logprob);
                w.WriteNumber("rank", rank++);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    internal static void WriteLogprob(Utf8JsonWriter w, float value)
    {
        if (float.IsFinite(value))
            w.WriteNumber("logprob", Math.Round(value, 6));
        else
            w.WriteNull("logprob"); // JSON has no -Infinity
    }

    internal static void WriteInts(Utf8JsonWriter w, string name, IReadOnlyList<int> values)
    {
        w.WriteStartArray(name);
        foreach (int v in values)
            w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
