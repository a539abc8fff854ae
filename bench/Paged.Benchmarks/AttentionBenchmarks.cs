using BenchmarkDotNet.Attributes;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Benchmarks;

/// <summary>Paged decode attention: 32 sequences, stories110M head shape (12 heads x 64), block size 16, per backend.</summary>
[MemoryDiagnoser]
public class AttentionBenchmarks : IDisposable
{
    private const int Seqs = 32, Heads = 12, HeadSize = 64, BlockSize = 16;
    private DeviceContext _ctx = null!;
    private DeviceBuffer _cache = null!, _q = null!, _o = null!, _tables = null!, _lens = null!, _starts = null!;
    private AttentionArgs _args;

    [Params(128, 512)]
    public int Context { get; set; }

    /// <summary>cpu, simt (the CUDA kernel under the emulator) or cuda (on a GPU).</summary>
    [Params("cpu", "simt")]
    public string Device { get; set; } = "cpu";

    [GlobalSetup]
    public void Setup()
    {
        _ctx = Backend.Load(Device).CreateContext();
        int blocksPerSeq = Context / BlockSize, numBlocks = Seqs * blocksPerSeq;
        long cacheFloats = (long)numBlocks * 2 * Heads * BlockSize * HeadSize;
        _cache = _ctx.Allocate<float>(cacheFloats);
        _ctx.Memset(_cache.Address, 0, cacheFloats * sizeof(float));
        _q = _ctx.Upload<float>(new float[Seqs * Heads * HeadSize]);
        _o = _ctx.Allocate<float>(Seqs * Heads * HeadSize);
        _tables = _ctx.Upload<int>(Enumerable.Range(0, numBlocks).ToArray());
        _lens = _ctx.Upload<int>(Enumerable.Repeat(Context, Seqs).ToArray());
        _starts = _ctx.Upload<int>(Enumerable.Range(0, Seqs + 1).ToArray());
        _args = new AttentionArgs
        {
            Out = _o.Address, Query = _q.Address,
            Cache = new KvCacheDesc { Data = _cache.Address, NumBlocks = numBlocks, NumLayers = 1, NumKvHeads = Heads, BlockSize = BlockSize, HeadSize = HeadSize },
            BlockTables = _tables.Address, SeqLens = _lens.Address, QueryStart = _starts.Address, NumSeqs = Seqs, NumTokens = Seqs,
            NumHeads = Heads, MaxBlocksPerSeq = blocksPerSeq, QStride = Heads * HeadSize, Scale = 0.125f, MaxSeqLen = Context,
        };
    }

    [Benchmark]
    public void DecodeAttention()
    {
        _ctx.AttentionDecode(_args);
        _ctx.Synchronize();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        foreach (var b in new[] { _cache, _q, _o, _tables, _lens, _starts })
            b.Dispose();
        _ctx.Dispose();
        GC.SuppressFinalize(this);
    }
}
