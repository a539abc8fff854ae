using System.Diagnostics;
using Paged.Engine;

namespace Paged.Cli;

/// <summary>
/// <c>paged bench throughput</c>: offline throughput. <c>--num-prompts</c> requests of random token ids, with
/// prompt and output lengths spread by <c>--range-ratio</c> around <c>--prompt-tokens</c> and
/// <c>--gen-tokens</c>, all given to one engine at once (continuous batching), or with
/// <c>--static-batching</c> in groups of <c>--max-num-seqs</c> where each group runs until its longest
/// request is done before the next group starts (what a server without continuous batching does);
/// <c>--static-padding</c> keeps computing a finished request's row until its group's longest is done, as a
/// padded batch does (HF transformers' <c>generate</c>), and counts only the requested tokens as output.
/// <c>--output-len-dist exponential|lognormal</c> draws long-tailed output lengths with mean <c>--gen-tokens</c>.
/// Reports requests/s, output tokens/s and total tokens/s.
/// </summary>
internal static class ThroughputBenchCommand
{
    public static int Run(BenchOptions o)
    {
        if (o.StaticPadding && !o.StaticBatching)
            throw new ArgumentException("--static-padding needs --static-batching");
        if (o.NumPrompts < 1 || o.PromptTokens < 1 || o.GenTokens < 1 || !(o.RangeRatio >= 0 && o.RangeRatio < 1) || !(o.OutputLenSigma > 0))
            throw new ArgumentException("--num-prompts, --prompt-tokens and --gen-tokens must be >= 1; --range-ratio in [0, 1); --output-len-sigma > 0");
        var options = EngineFactory.ToEngineOptions(o);
        using var engine = LlmEngine.Create(o.Model, o.Tokenizer, options);
        var random = new Random(o.WorkloadSeed);
        var requests = new List<(int[] Prompt, int Output)>();
        for (int i = 0; i < o.NumPrompts; i++)
        {
            int input = ServeBench.ServeWorkload.Spread(o.PromptTokens, o.RangeRatio, random);
            int output = o.OutputLenDist == ServeBench.OutputLengthShape.Uniform
                ? ServeBench.ServeWorkload.Spread(o.GenTokens, o.RangeRatio, random)
                : new ServeBench.OutputLengthDistribution(o.OutputLenDist, o.GenTokens, o.RangeRatio, o.OutputLenSigma, Math.Max(1, engine.MaxContext - input)).Sample(random);
            if (input + output > engine.MaxContext)
                throw new ArgumentException($"a request of {input} prompt + {output} output tokens exceeds the context of {engine.MaxContext}: lower the lengths or --range-ratio");
            var ids = new int[input];
            ids[0] = engine.Config.BosId;
            for (int t = 1; t < input; t++)
                ids[t] = 3 + random.Next(engine.Config.VocabSize - 3);
            requests.Add((ids, output));
        }

        int groupSize = o.StaticBatching ? options.MaxNumSeqs : requests.Count;
        Console.Error.WriteLine($"bench throughput: {requests.Count} requests, prompt ~{o.PromptTokens}, output {o.OutputLenDist} mean {o.GenTokens} (range ratio {o.RangeRatio}, sigma {o.OutputLenSigma}): drawn mean {requests.Average(r => r.Output):F1}, max {requests.Max(r => r.Output)}, " +
                                $"{(o.StaticBatching ? $"static batches of {groupSize}" : "continuous batching")} on {engine.DeviceName}");
        long start = Stopwatch.GetTimestamp();
        long outputTokens = 0;
        for (int g = 0; g < requests.Count; g += groupSize)
        {
            var group = requests.Skip(g).Take(groupSize).ToList();
            int longest = group.Max(r => r.Output);
            var wanted = new Dictionary<long, int>();
            foreach (var (prompt, output) in group)
            {
                // A padded static batch keeps computing a finished request's row until the group's longest is done.
                int steps = o.StaticPadding ? longest : output;
                wanted[engine.AddRequest("", prompt, new SamplingParams { Temperature = 0, MaxTokens = steps, IgnoreEos = true })] = output;
            }

            while (engine.HasUnfinishedRequests)
            {
                foreach (var r in engine.Step())
                {
                    if (r.Finished)
                        outputTokens += Math.Min(r.TokenIds.Count, wanted[r.RequestId]); // padding is not output
                }
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long promptTokens = requests.Sum(r => (long)r.Prompt.Length);
        Console.WriteLine($"requests_per_s={requests.Count / seconds:F2} output_tok_s={outputTokens / seconds:F1} total_tok_s={(promptTokens + outputTokens) / seconds:F1} " +
                          $"requests={requests.Count} seconds={seconds:F3} steps={engine.Counters.Steps} execute_s={engine.Counters.ExecuteSeconds:F3} batching={(o.StaticBatching ? (o.StaticPadding ? "static-padded" : "static") : "continuous")} device=\"{engine.DeviceName}\"");
        return 0;
    }
}
