using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.NoEmit;
using Paged.Models;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Cli;

/// <summary>
/// <c>paged bench kernels</c>: times every op of the backend at the shapes of a model (its dim, heads,
/// KV heads, head size, hidden size, vocabulary) for <c>--batch</c> sequences of <c>--prompt-tokens</c>
/// context, and reports the achieved memory bandwidth (bytes each kernel must move / time) against the
/// device's peak (<c>--peak-gbs</c>, else known from the device name). Each op is a BenchmarkDotNet
/// benchmark (in-process, median of the measured iterations). Runs on every backend: on a GPU it
/// measures the CUDA kernels; on cpu and simt it checks that the harness and kernels run.
/// </summary>
internal static class KernelBenchCommand
{
    private sealed record Case(string Name, string Shape, double Bytes, Action Run);

    public static int Run(BenchOptions o)
    {
        if (o.Batch < 1 || o.PromptTokens < 1 || o.Runs < 1 || o.Warmup < 0)
            throw new ArgumentException("--batch, --prompt-tokens and --runs must be >= 1; --warmup >= 0");
        var device = EngineFactory.ResolveDevice(o.Device);
        ModelConfig config;
        using (var weights = ModelLoader.Load(o.Model))
            config = weights.Config;
        using var ctx = Backend.Load(device).CreateContext(o.Threads);
        double peak = o.PeakGbs > 0 ? o.PeakGbs : KnownPeakGbs(ctx.DeviceName);
        Console.Error.WriteLine($"bench kernels: {o.Model} shapes (dim {config.Dim}, heads {config.NumHeads}/{config.NumKvHeads} x {config.HeadSize}, " +
                                $"hidden {config.HiddenDim}, vocab {config.VocabSize}) on {ctx.DeviceName}; {o.Batch} sequences x {o.PromptTokens} context, " +
                                $"BenchmarkDotNet in-process, {o.Warmup} warmup + {o.Runs} measured iterations" + (peak > 0 ? $"; peak {peak:F0} GB/s" : ""));
        var buffers = new List<DeviceBuffer>();
        try
        {
            var cases = BuildCases(ctx, config, o.Batch, o.PromptTokens, o.BlockSize, buffers);
            KernelBenchmark.Session = new KernelBenchmark.State(ctx, cases.ToDictionary(c => c.Name, c => c.Run));
            var summary = BenchmarkRunner.Run<KernelBenchmark>(BenchmarkConfig(o));
            Console.WriteLine($"{"kernel",-18} {"shape",-34} {"time_us",10} {"GB/s",9} {"%peak",6}");
            foreach (var c in cases)
            {
                var report = summary.Reports.FirstOrDefault(r => Equals(r.BenchmarkCase.Parameters["Kernel"], c.Name));
                if (report?.ResultStatistics is not { } stats)
                {
                    Console.WriteLine($"{c.Name,-18} {c.Shape,-34} {"failed",10}");
                    continue;
                }

                double seconds = stats.Median / 1e9;
                double gbs = c.Bytes / seconds / 1e9;
                string pct = peak > 0 ? (100 * gbs / peak).ToString("F1", CultureInfo.InvariantCulture) : "-";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Name,-18} {c.Shape,-34} {seconds * 1e6,10:F1} {gbs,9:F2} {pct,6}"));
            }

            return summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success) ? 1 : 0;
        }
        finally
        {
            KernelBenchmark.Session = null;
            foreach (var b in buffers)
                b.Dispose();
        }
    }

    /// <summary>
    /// In-process (the benchmarks call into the context this process created); a fixed 32 launches per
    /// iteration instead of a pilot stage, so a slow backend (the emulator) stays quick; --warmup and
    /// --runs iterations; artifacts in the temp directory.
    /// </summary>
    private static ManualConfig BenchmarkConfig(BenchOptions o) =>
        ManualConfig.CreateEmpty()
            .AddJob(Job.Default.WithToolchain(InProcessNoEmitToolchain.Instance)
                .WithStrategy(RunStrategy.Throughput)
                .WithLaunchCount(1)
                .WithInvocationCount(32)
                .WithUnrollFactor(1)
                .WithWarmupCount(o.Warmup)
                .WithIterationCount(o.Runs))
            .AddLogger(ConsoleLogger.Default)
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "paged-bench-kernels"))
            .WithOptions(ConfigOptions.DisableLogFile | ConfigOptions.JoinSummary);

    /// <summary>Peak DRAM bandwidth of well-known GPUs (GB/s); 0 when unknown (CPU, emulator).</summary>
    public static double KnownPeakGbs(string deviceName) => deviceName switch
    {
        _ when deviceName.Contains("H200", StringComparison.Ordinal) => 4800,
        _ when deviceName.Contains("H100", StringComparison.Ordinal) && deviceName.Contains("PCIe", StringComparison.Ordinal) => 2000,
        _ when deviceName.Contains("H100", StringComparison.Ordinal) => 3350,
        _ when deviceName.Contains("A100", StringComparison.Ordinal) && deviceName.Contains("40GB", StringComparison.Ordinal) => 1555,
        _ when deviceName.Contains("A100", StringComparison.Ordinal) => 2039,
        _ when deviceName.Contains("L40S", StringComparison.Ordinal) => 864,
        _ when deviceName.Contains("4090", StringComparison.Ordinal) => 1008,
        _ => 0,
    };

    private static List<Case> BuildCases(DeviceContext ctx, ModelConfig c, int seqs, int context, int blockSize, List<DeviceBuffer> keep)
    {
        const long F = sizeof(float);
        var rng = new Random(1);
        DeviceBuffer Buf(long floats)
        {
            var data = new float[floats];
            for (long i = 0; i < floats; i++)
                data[i] = (float)(rng.NextDouble() - 0.5);
            var b = ctx.Upload<float>(data);
            keep.Add(b);
            return b;
        }

        DeviceBuffer Ints(int[] v)
        {
            var b = ctx.Upload<int>(v);
            keep.Add(b);
            return b;
        }

        int dim = c.Dim, hs = c.HeadSize, heads = c.NumHeads, kvh = c.NumKvHeads, kvDim = c.KvDim, hidden = c.HiddenDim;
        int tokens = seqs; // one decode step of every sequence
        int blocksPerSeq = (context + blockSize - 1) / blockSize, numBlocks = (seqs * blocksPerSeq) + 2;
        var x = Buf((long)tokens * dim);
        var res = Buf((long)tokens * dim);
        var w = Buf(dim);
        var outBuf = Buf((long)tokens * Math.Max(dim, hidden));
        var gateUp = Buf((long)tokens * 2 * hidden);
        var q = Buf((long)tokens * heads * hs);
        var k = Buf((long)tokens * kvDim);
        var table = Buf((long)c.VocabSize * dim);
        var ids = Ints(Enumerable.Range(0, tokens).Select(i => i % c.VocabSize).ToArray());
        var positions = Ints(Enumerable.Repeat(context - 1, tokens).ToArray());
        var logits = Buf((long)tokens * c.VocabSize);
        var argmaxOut = Ints(new int[tokens]);
        var weight = Buf((long)dim * dim);
        var cache = Buf((long)numBlocks * 2 * kvDim * blockSize);
        var desc = new KvCacheDesc { Data = cache.Address, NumBlocks = numBlocks, NumLayers = 1, NumKvHeads = kvh, BlockSize = blockSize, HeadSize = hs };
        var tables = Ints(Enumerable.Range(0, seqs * blocksPerSeq).ToArray());
        var lens = Ints(Enumerable.Repeat(context, seqs).ToArray());
        var starts = Ints(Enumerable.Range(0, seqs + 1).ToArray());
        var slots = ctx.Upload<long>(Enumerable.Range(0, tokens).Select(s => ((long)s * blocksPerSeq * blockSize) + context - 1).ToArray());
        keep.Add(slots);
        var pairs = Ints([0, numBlocks - 1, 1, numBlocks - 2]);
        var attn = new AttentionArgs
        {
            Out = outBuf.Address, Query = q.Address, Cache = desc, BlockTables = tables.Address, SeqLens = lens.Address,
            QueryStart = starts.Address, NumSeqs = seqs, NumTokens = tokens, NumHeads = heads, MaxBlocksPerSeq = blocksPerSeq,
            QStride = heads * hs, Scale = 1f / MathF.Sqrt(hs), MaxSeqLen = context,
        };
        double kvBytes = (double)seqs * context * kvDim * 2 * F;
        double blockBytes = 2.0 * kvDim * blockSize * F;
        string t = $"{tokens} tok";
        return
        [
            new("embedding", $"{t} x {dim}", 2.0 * tokens * dim * F,
                () => ctx.Embedding(new EmbeddingArgs { Out = outBuf.Address, Table = table.Address, TokenIds = ids.Address, NumTokens = tokens, VocabSize = c.VocabSize, Dim = dim })),
            new("rmsnorm+residual", $"{t} x {dim}", ((4.0 * tokens) + 1) * dim * F,
                () => ctx.RmsNorm(new RmsNormArgs { Out = outBuf.Address, X = x.Address, Residual = res.Address, Weight = w.Address, NumTokens = tokens, Dim = dim, Eps = 1e-5f })),
            new("rope", $"{t} x ({heads}+{kvh}) x {hs}", 2.0 * tokens * (heads + kvh) * hs * F,
                () => ctx.Rope(new RopeArgs { Q = q.Address, K = k.Address, Positions = positions.Address, NumTokens = tokens, NumHeads = heads, NumKvHeads = kvh, HeadSize = hs, RotaryDim = hs, QStride = heads * hs, KStride = kvDim, Theta = c.RopeTheta })),
            new("silu_mul", $"{t} x {hidden}", 3.0 * tokens * hidden * F,
                () => ctx.SiluMul(new SiluMulArgs { Out = outBuf.Address, X = gateUp.Address, NumTokens = tokens, Hidden = hidden })),
            new("cache_write", $"{t} x {kvDim}", 4.0 * tokens * kvDim * F,
                () => ctx.CacheWrite(new CacheWriteArgs { Cache = desc, Key = k.Address, Value = k.Address, SlotMapping = slots.Address, NumTokens = tokens, KeyStride = kvDim, ValueStride = kvDim })),
            new("attention_decode", $"{seqs} seq x {context} ctx, {heads}/{kvh} x {hs}", kvBytes + (2.0 * tokens * heads * hs * F),
                () => ctx.AttentionDecode(attn)),
            new("attention_prefill", $"{seqs} seq x {context} ctx (q_len 1)", kvBytes + (2.0 * tokens * heads * hs * F),
                () => ctx.AttentionPrefill(attn)),
            new("block_copy", $"2 pairs x {blockBytes / 1024:F0} KiB", 4.0 * blockBytes,
                () => ctx.BlockCopy(new BlockCopyArgs { Cache = desc, Pairs = pairs.Address, NumPairs = 2 })),
            new("argmax", $"{t} x {c.VocabSize}", (double)tokens * c.VocabSize * F,
                () => ctx.Argmax(new ArgmaxArgs { Out = argmaxOut.Address, Logits = logits.Address, NumRows = tokens, VocabSize = c.VocabSize, RowStride = c.VocabSize })),
            new("matmul", $"{tokens}x{dim}x{dim}", ((double)dim * dim * F) + (2.0 * tokens * dim * F),
                () => ctx.Matmul(new MatmulArgs { Out = outBuf.Address, X = x.Address, W = weight.Address, M = tokens, N = dim, K = dim, Ldx = dim, Ldo = dim })),
        ];
    }
}
