using BenchmarkDotNet.Attributes;
using Paged.Engine.Scheduling;

namespace Paged.Benchmarks;

/// <summary>
/// One scheduler step (plan + bookkeeping: block growth, prefix-cache registration, finishing and
/// re-admitting requests) with a fake model at a steady state of 256 or 1,024 running sequences.
/// Requests have 64-token prompts and 64..319 generated tokens (staggered, so a few finish and a few
/// are admitted every step); finished requests are recycled so the steady state allocates nothing.
/// </summary>
[MemoryDiagnoser]
public class SchedulerBenchmarks
{
    private SchedulerLoop _loop = null!;

    [Params(256, 1024)]
    public int Running { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = new SchedulerConfig
        {
            NumBlocks = Running * 32,
            BlockSize = 16,
            MaxNumSeqs = Running,
            MaxNumBatchedTokens = Running + 2048,
        };
        _loop = new SchedulerLoop(config) { Recycle = true };
        for (int i = 0; i < Running; i++)
        {
            var prompt = Enumerable.Range(0, 64).Select(t => 3 + ((t * 31) + (i * 7)) % 500).ToArray();
            _loop.Add(prompt, 64 + (i * 255 / Running));
        }

        for (int i = 0; i < 2000; i++)
            _loop.Step();
    }

    [Benchmark]
    public int Step() => _loop.Step().Chunks.Count;
}
