using System.Diagnostics;
using Paged.Engine;

namespace Paged.Cli;

/// <summary>
/// <c>paged bench generate</c>: end-to-end throughput of batch generation. Each run queues
/// <c>--batch</c> requests of <c>--prompt-tokens</c> random prompt tokens and generates exactly
/// <c>--gen-tokens</c> tokens for each (end-of-sequence ignored), and reports the median of the runs:
/// prompt processing (prefill tokens / time until every sequence has its first token), decode
/// (generated tokens after the first / remaining time) and overall. With --lora adapters, request i runs under
/// adapter i mod (number of adapters): one batch mixes them all (multi-LoRA throughput).
/// </summary>
internal static class BenchCommand
{
    public static int Run(BenchOptions o)
    {
        if (o.Batch < 1 || o.PromptTokens < 1 || o.GenTokens < 1 || o.Runs < 1 || o.Warmup < 0)
            throw new ArgumentException("--batch, --prompt-tokens, --gen-tokens and --runs must be >= 1; --warmup >= 0");

        var options = EngineFactory.ToEngineOptions(o) with { MaxNumSeqs = Math.Max(o.EffectiveMaxNumSeqs, o.Batch) };
        using var engine = EngineFactory.CreateEngine(o, options, needsTokenizer: false);
        if (o.PromptTokens + o.GenTokens > engine.MaxContext)
            throw new ArgumentException($"--prompt-tokens + --gen-tokens = {o.PromptTokens + o.GenTokens} exceeds the context of {engine.MaxContext}");

        var c = engine.Config;
        Console.Error.WriteLine(
            $"bench generate: {o.Model} (dim {c.Dim}, {c.NumLayers} layers, vocab {c.VocabSize}) on {engine.DeviceName}; " +
            $"batch {o.Batch}, prompt {o.PromptTokens}, generate {o.GenTokens}, {o.Warmup} warmup + {o.Runs} runs"
            + (engine.Adapters.Adapters.Count > 0 ? $", {engine.Adapters.Adapters.Count} LoRA adapters (max rank {options.MaxLoraRank}, {options.MaxLoras} {engine.Adapters.SlotDType.ToString().ToLowerInvariant()} slots)" : ""));

        var random = new SamplingRandom(12345);
        var prefill = new List<double>();
        var decode = new List<double>();
        var overall = new List<double>();
        var syncs = new List<double>();
        var launches = new List<double>();
        var replays = new List<double>();
        for (int run = 0; run < o.Warmup + o.Runs; run++)
        {
            var (p, d, all, perStep) = RunOnce(engine, o, random);
            syncs.Add(perStep.Syncs);
            launches.Add(perStep.Launches);
            replays.Add(perStep.GraphReplays);
            if (run < o.Warmup)
                continue;
            prefill.Add(p);
            decode.Add(d);
            overall.Add(all);
            Console.Error.WriteLine($"  run {run - o.Warmup + 1}: prefill {p:F1} tok/s, decode {d:F1} tok/s, overall {all:F1} tok/s");
        }

        Console.WriteLine($"prefill_tok_s={Median(prefill):F1} decode_tok_s={Median(decode):F1} overall_tok_s={Median(overall):F1} " +
                          $"decode_syncs_per_step={Median(syncs):F2} decode_launches_per_step={Median(launches):F1} decode_graph_replays_per_step={Median(replays):F2} " +
                          $"batch={o.Batch} prompt_tokens={o.PromptTokens} gen_tokens={o.GenTokens} runs={o.Runs} device=\"{engine.DeviceName}\"");
        return 0;
    }

    private static (double Prefill, double Decode, double Overall, (double Syncs, double Launches, double GraphReplays) PerDecodeStep) RunOnce(
        LlmEngine engine, BenchOptions o, SamplingRandom random)
    {
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = o.GenTokens, IgnoreEos = true };
        int vocab = engine.Config.VocabSize;
        for (int i = 0; i < o.Batch; i++)
        {
            var ids = new int[o.PromptTokens];
            int first = engine.Config.BosId >= 0 ? 1 : 0;
            if (first == 1)
                ids[0] = engine.Config.BosId;
            for (int t = first; t < ids.Length; t++)
                ids[t] = 3 + (int)(random.NextUInt64() % (ulong)(vocab - 3));
            var adapters = engine.Adapters.Adapters;
            engine.AddRequest(new GenerationRequest
            {
                PromptTokenIds = ids, Sampling = sampling, Lora = adapters.Count > 0 ? adapters[i % adapters.Count].Name : null,
            });
        }

        long start = Stopwatch.GetTimestamp();
        double executeBefore = engine.Counters.ExecuteSeconds;
        long? allFirst = null;
        int withFirst = 0;
        int decodeSteps = 0;
        var atDecode = default(Paged.Runtime.Interop.BackendCounters);
        while (engine.HasUnfinishedRequests)
        {
            foreach (var output in engine.Step())
            {
                if (output.TokenIds.Count == 1)
                    withFirst++;
            }

            if (allFirst is not null)
                decodeSteps++;
            if (allFirst is null && withFirst == o.Batch)
            {
                allFirst = Stopwatch.GetTimestamp();
                atDecode = engine.BackendCounters;
            }
        }

        long end = Stopwatch.GetTimestamp();
        var decodeCounts = engine.BackendCounters.Since(atDecode);
        double syncsPerStep = decodeSteps > 0 ? decodeCounts.HostSyncs / (double)decodeSteps : 0;
        double launchesPerStep = decodeSteps > 0 ? decodeCounts.Launches / (double)decodeSteps : 0;
        double replaysPerStep = decodeSteps > 0 ? decodeCounts.GraphReplays / (double)decodeSteps : 0;
        double f = Stopwatch.Frequency;
        double prefillSeconds = (allFirst!.Value - start) / f;
        double decodeSeconds = (end - allFirst.Value) / f;
        double total = (end - start) / f;
        double execute = engine.Counters.ExecuteSeconds - executeBefore;
        Console.Error.WriteLine($"    {total * 1e3:F1} ms total, {execute * 1e3:F1} ms in the model runner ({execute / total:P0}); " +
                                $"decode: {decodeSteps} steps, {syncsPerStep:F2} host waits, {launchesPerStep:F1} launches ({replaysPerStep:F2} graph replays) and " +
                                $"{(decodeSteps > 0 ? decodeCounts.HostToDeviceCopies / (double)decodeSteps : 0):F2} uploads per step");
        double decodeTokens = (double)o.Batch * (o.GenTokens - 1);
        return (o.Batch * (double)o.PromptTokens / prefillSeconds,
                decodeSeconds > 0 ? decodeTokens / decodeSeconds : 0,
                o.Batch * (double)o.GenTokens / total,
                (syncsPerStep, launchesPerStep, replaysPerStep));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }
}
