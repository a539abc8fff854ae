using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// Paged attention at long contexts (511, 512, 1024, 2048 tokens: both sides of the 512-token partition of
/// the CUDA decode kernel and several partitions) on every backend, decode and a chunked-prefill step after a
/// long cached prefix, in f32 and, where the backend has it, f16 (the CPU backend is f32-only: its cache and
/// attention reject f16). Compared with a double-precision dense reference computed from the same (rounded)
/// inputs.
/// </summary>
[TestClass]
public sealed class LongContextAttentionTests
{
    private const int BlockSize = 16, HeadSize = 64, KvHeads = 2, Gqa = 4, Chunk = 37;

    public static IEnumerable<object[]> Cases()
    {
        foreach (string backend in new[] { "cpu", "simt", "cuda" })
        {
            foreach (var dtype in backend == "cpu" ? new[] { DType.F32 } : [DType.F32, DType.F16])
            {
                foreach (int length in new[] { 511, 512, 1024, 2048 })
                    yield return [backend, dtype, length];
            }
        }
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    [DynamicData(nameof(Cases))]
    public void Decode_and_chunked_prefill_match_the_reference(string backend, DType dtype, int length)
    {
        var ctx = Backends.Context(backend);
        // Sequences: decode at `length`, decode at `length - 1`, and a 37-token chunk ending at `length`.
        (int Len, int QLen)[] seqs = [(length, 1), (length - 1, 1), (length, Chunk)];
        int heads = KvHeads * Gqa, kvWidth = KvHeads * HeadSize, qWidth = heads * HeadSize;
        int blocksPerSeq = (length + BlockSize - 1) / BlockSize, numBlocks = (seqs.Length * blocksPerSeq) + 3;
        var rng = new Random(length);
        var pool = Enumerable.Range(0, numBlocks).OrderBy(_ => rng.Next()).ToArray();
        var tables = new int[seqs.Length * blocksPerSeq];
        for (int i = 0; i < tables.Length; i++)
            tables[i] = pool[i];

        // Keys and values per sequence, rounded to the cache's precision so that the reference sees what the kernel sees.
        int totalTokens = seqs.Sum(s => s.Len);
        var keys = Round(TestData.Uniform(totalTokens * kvWidth, 21), dtype);
        var values = Round(TestData.Uniform(totalTokens * kvWidth, 22), dtype);
        var slots = new long[totalTokens];
        var first = new int[seqs.Length];
        for (int s = 0, t = 0; s < seqs.Length; s++)
        {
            first[s] = t;
            for (int p = 0; p < seqs[s].Len; p++, t++)
                slots[t] = ((long)tables[(s * blocksPerSeq) + (p / BlockSize)] * BlockSize) + (p % BlockSize);
        }

        int elementBytes = dtype == DType.F32 ? 4 : 2;
        var desc = new KvCacheDesc { NumBlocks = numBlocks, NumLayers = 1, NumKvHeads = KvHeads, BlockSize = BlockSize, HeadSize = HeadSize, DType = dtype };
        using var cache = ctx.Allocate((long)numBlocks * 2 * kvWidth * BlockSize * elementBytes);
        ctx.Memset(cache.Address, 0xFF, (long)numBlocks * 2 * kvWidth * BlockSize * elementBytes); // NaN in both precisions
        desc.Data = cache.Address;
        using var kb = Upload(ctx, keys, dtype);
        using var vb = Upload(ctx, values, dtype);
        using var sb = ctx.Upload<long>(slots);
        ctx.CacheWrite(new CacheWriteArgs
        {
            Cache = desc, Key = kb.Address, Value = vb.Address, SlotMapping = sb.Address, NumTokens = totalTokens,
            Layer = 0, KeyStride = kvWidth, ValueStride = kvWidth, DType = dtype, // keys and values in the cache's dtype
        });

        int numTokens = seqs.Sum(s => s.QLen);
        var query = Round(TestData.Uniform(numTokens * qWidth, 23), dtype);
        var queryStart = new int[seqs.Length + 1];
        for (int s = 0; s < seqs.Length; s++)
            queryStart[s + 1] = queryStart[s] + seqs[s].QLen;
        float scale = 1f / MathF.Sqrt(HeadSize);
        var expected = Reference(seqs, first, queryStart, query, keys, values, scale);

        // Tolerances: f32 kernels accumulate <= 2048 softmax-weighted terms of values in [-1, 1]: ~1e-7 per
        // term, 3e-5 absolute with margin. In f16 the output is rounded to half (2^-11 relative; outputs are
        // averages over >= 474 positions, below 0.25: < 1.3e-4) and the probabilities may be rounded to half
        // before the value product (errors that average out): 5e-4 absolute. A wrong KV head, block or
        // position moves outputs by 1e-2 and more.
        double atol = dtype == DType.F32 ? 3e-5 : 5e-4, rtol = dtype == DType.F32 ? 1e-4 : 1e-3;
        using var qb = Upload(ctx, query, dtype);
        using var tb = ctx.Upload<int>(tables);
        using var lb = ctx.Upload<int>(seqs.Select(s => s.Len).ToArray());
        using var qsb = ctx.Upload<int>(queryStart);
        using var ob = ctx.Allocate((long)numTokens * qWidth * elementBytes);
        var args = new AttentionArgs
        {
            Out = ob.Address, Query = qb.Address, Cache = desc, BlockTables = tb.Address, SeqLens = lb.Address,
            QueryStart = qsb.Address, NumSeqs = seqs.Length, NumTokens = numTokens, NumHeads = heads,
            MaxBlocksPerSeq = blocksPerSeq, Layer = 0, QStride = qWidth, Scale = scale, MaxSeqLen = length, DType = dtype,
        };
        ctx.AttentionPrefill(args);
        TestData.AssertClose(expected, Download(ob, dtype), atol, rtol, $"{backend} {dtype} chunked prefill at {length}");

        // Decode: the two single-token sequences alone (the first two rows of everything above).
        ctx.Memset(ob.Address, 0, (long)numTokens * qWidth * elementBytes);
        args.NumSeqs = 2;
        args.NumTokens = 2;
        ctx.AttentionDecode(args);
        TestData.AssertClose(expected.AsSpan(0, 2 * qWidth), Download(ob, dtype).AsSpan(0, 2 * qWidth), atol, rtol, $"{backend} {dtype} decode at {length}");
    }

    private static float[] Reference((int Len, int QLen)[] seqs, int[] first, int[] queryStart, float[] query, float[] keys, float[] values, float scale)
    {
        int heads = KvHeads * Gqa, kvWidth = KvHeads * HeadSize, qWidth = heads * HeadSize;
        var expected = new float[queryStart[^1] * qWidth];
        var scores = new double[seqs.Max(s => s.Len)];
        for (int s = 0; s < seqs.Length; s++)
        {
            for (int i = 0; i < seqs[s].QLen; i++)
            {
                int t = queryStart[s] + i, pos = seqs[s].Len - seqs[s].QLen + i;
                for (int h = 0; h < heads; h++)
                {
                    int kvOffset = h / Gqa * HeadSize;
                    var q = query.AsSpan((t * qWidth) + (h * HeadSize), HeadSize);
                    double max = double.NegativeInfinity;
                    for (int j = 0; j <= pos; j++)
                    {
                        var k = keys.AsSpan(((first[s] + j) * kvWidth) + kvOffset, HeadSize);
                        double dot = 0;
                        for (int d = 0; d < HeadSize; d++)
                            dot += (double)q[d] * k[d];
                        scores[j] = dot * scale;
                        max = Math.Max(max, scores[j]);
                    }

                    double sum = 0;
                    for (int j = 0; j <= pos; j++)
                        sum += scores[j] = Math.Exp(scores[j] - max);
                    for (int d = 0; d < HeadSize; d++)
                    {
                        double acc = 0;
                        for (int j = 0; j <= pos; j++)
                            acc += scores[j] * values[((first[s] + j) * kvWidth) + kvOffset + d];
                        expected[(t * qWidth) + (h * HeadSize) + d] = (float)(acc / sum);
                    }
                }
            }
        }

        return expected;
    }

    private static float[] Round(float[] data, DType dtype) =>
        dtype == DType.F16 ? [.. data.Select(v => (float)(Half)v)] : data;

    private static DeviceBuffer Upload(DeviceContext ctx, float[] data, DType dtype) =>
        dtype == DType.F16 ? ctx.Upload<Half>(data.Select(v => (Half)v).ToArray()) : ctx.Upload<float>(data);

    private static float[] Download(DeviceBuffer buffer, DType dtype) =>
        dtype == DType.F16 ? [.. buffer.ToArray<Half>().Select(h => (float)h)] : buffer.ToArray<float>();
}
