using Paged.Engine;
using Paged.Engine.Scheduling;

namespace Paged.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/Paged.Benchmarks -- kv-report</c>: KV-cache figures of the
/// scheduler on synthetic workloads (no model): (1) KV waste of paged blocks against per-request
/// contiguous reservation to the maximum length, on a mixed workload; (2) prefill tokens computed for
/// 64 requests sharing a 200-token system prompt, with prefix caching on and off.
/// </summary>
internal static class KvReport
{
    public static void Run()
    {
        Waste(blockSize: 16);
        Waste(blockSize: 8);
        foreach (int suffix in new[] { 8, 32 })
        {
            foreach (int bs in new[] { 16, 8 })
                SharedSystemPrompt(bs, suffix);
        }
    }

    /// <summary>300 requests, prompts 16..1024 and outputs 16..1024 tokens (uniform), max length 2048, 16 arriving per step.</summary>
    private static void Waste(int blockSize)
    {
        const int maxLen = 2048;
        var random = new Random(1);
        var loop = new SchedulerLoop(new SchedulerConfig
        {
            NumBlocks = 64 * maxLen / blockSize, BlockSize = blockSize, MaxNumSeqs = 64, MaxNumBatchedTokens = 2048, PrefixCaching = false,
        });
        var pending = new Queue<(int[] Prompt, int Out)>();
        for (int i = 0; i < 300; i++)
            pending.Enqueue(([.. Enumerable.Range(0, random.Next(16, 1025)).Select(_ => random.Next(3, 500))], random.Next(16, 1025)));
        double pagedAllocated = 0, pagedFilled = 0, contiguousReserved = 0;
        while (pending.Count > 0 || loop.Scheduler.HasWork)
        {
            for (int i = 0; i < 16 && pending.Count > 0; i++)
            {
                var (p, o) = pending.Dequeue();
                loop.Add(p, o);
            }

            loop.Step();
            var pool = loop.Scheduler.Kv.Pool;
            pagedAllocated += (double)pool.NumUsed * blockSize;
            pagedFilled += pool.FilledSlotsInUse;
            contiguousReserved += (double)loop.Scheduler.NumRunning * maxLen;
        }

        Console.WriteLine($"kv-waste block_size={blockSize}: paged {100 * (1 - (pagedFilled / pagedAllocated)):F2}% of allocated slots empty; " +
                          $"contiguous reservation to {maxLen}: {100 * (1 - (pagedFilled / contiguousReserved)):F2}% empty " +
                          $"(same schedule, time-averaged over {loop.Steps} steps, {loop.Finished} requests)");
    }

    /// <summary>64 requests, one arriving per step: a shared 200-token system prompt plus a unique suffix.</summary>
    private static void SharedSystemPrompt(int blockSize, int suffix)
    {
        var system = Enumerable.Range(0, 200).Select(t => 3 + (t * 13 % 400)).ToArray();
        long[] computed = new long[2];
        foreach (bool caching in new[] { false, true })
        {
            var loop = new SchedulerLoop(new SchedulerConfig
            {
                NumBlocks = 4096, BlockSize = blockSize, MaxNumSeqs = 64, MaxNumBatchedTokens = 2048, PrefixCaching = caching,
            });
            for (int i = 0; i < 64; i++)
            {
                loop.Add([.. system, .. Enumerable.Range(0, suffix).Select(t => 3 + ((i * 37) + t) % 450)], 16);
                loop.Step();
            }

            while (loop.Scheduler.HasWork)
                loop.Step();
            computed[caching ? 1 : 0] = loop.PromptTokensComputed;
        }

        Console.WriteLine($"shared-system-prompt block_size={blockSize} suffix={suffix}: prefill tokens computed {computed[0]} (prefix caching off) -> " +
                          $"{computed[1]} (on): {100 * (1 - (computed[1] / (double)computed[0])):F1}% fewer; " +
                          $"system-prompt tokens {64 * 200} -> {computed[1] - (64L * suffix)}");
    }
}
