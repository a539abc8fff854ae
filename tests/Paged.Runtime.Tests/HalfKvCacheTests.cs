using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// A bf16 / f16 KV cache under fp32 activations (--kv-cache-dtype): cache_write rounds each f32 key and
/// value to the cache's type (to nearest even), attention reads the rounded K/V widened to fp32, and
/// block copy / swap move the smaller blocks whole. References: the rounding is computed here bit by
/// bit (System.Half for f16, integer rounding for bf16), attention in double over the rounded values.
/// </summary>
[TestClass]
public sealed class HalfKvCacheTests
{
    private const int NumLayers = 2;
    private const int Layer = 1;

    public static IEnumerable<object[]> Cases()
    {
        // backend, cache dtype, block size, head size, kv heads, gqa, "seqLen:qLen,...", window
        foreach (string b in new[] { "cpu", "simt", "cuda" })
        {
            foreach (var dt in new[] { DType.BF16, DType.F16 })
            {
                yield return [b, dt, 16, 8, 4, 2, "1:1,15:1,16:1,17:1,90:1", 0];   // decode across block boundaries
                yield return [b, dt, 8, 64, 2, 4, "40:7,9:9,33:1,5:1", 0];        // chunked prefill mixed with decode
                yield return [b, dt, 32, 128, 1, 8, "100:30,65:2,3:3", 0];        // GQA 8
                yield return [b, dt, 16, 16, 2, 4, "37:1,40:7,60:33", 13];       // a window crossing block boundaries
                yield return [b, dt, 16, 80, 2, 1, "33:5,17:1,80:1", 0];          // head size 80
            }
        }

        yield return ["cpu", DType.BF16, 1, 12, 3, 1, "9:3,2:2,20:1", 0];         // block size 1, portable path
        yield return ["cpu", DType.F16, 16, 24, 2, 2, "50:9,31:1", 10];           // generic AVX2 path, window
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void CacheWriteRoundsAndAttentionReadsTheRoundedKv(string backend, DType dt, int blockSize, int headSize, int kvHeads, int gqa, string spec, int window)
    {
        var ctx = Backends.Context(backend);
        var seqs = PagedAttentionReference.ParseSeqs(spec);
        int heads = kvHeads * gqa, numSeqs = seqs.Length;
        int maxBlocks = seqs.Max(s => (s.Len + blockSize - 1) / blockSize);
        int numBlocks = seqs.Sum(s => (s.Len + blockSize - 1) / blockSize) + 5;
        var rng = new Random((blockSize * 1000) + headSize + kvHeads + gqa + window + (int)dt);
        var tables = PagedAttentionReference.RandomTables(seqs, blockSize, numBlocks, maxBlocks, rng, out _);

        int kvWidth = kvHeads * headSize, kvStride = kvWidth + 3;
        int total = seqs.Sum(s => s.Len);
        var keys = TestData.Uniform((total + 1) * kvStride, 21);
        var values = TestData.Uniform((total + 1) * kvStride, 22);
        keys[5] = 1e-6f;  // below f16's normal range in one element: subnormal rounding
        var slots = PagedAttentionReference.Slots(seqs, tables, maxBlocks, blockSize, out var first);
        long cacheElems = (long)numBlocks * NumLayers * 2 * kvWidth * blockSize;
        using var cache = ctx.Allocate<ushort>(cacheElems);
        ctx.Memset(cache.Address, 0xFF, cacheElems * sizeof(ushort)); // NaN in both half types
        var desc = new KvCacheDesc { Data = cache.Address, NumBlocks = numBlocks, NumLayers = NumLayers, NumKvHeads = kvHeads, BlockSize = blockSize, HeadSize = headSize, DType = dt };
        using var kb = ctx.Upload<float>(keys);
        using var vb = ctx.Upload<float>(values);
        using var sb = ctx.Upload<long>(slots);
        ctx.CacheWrite(new CacheWriteArgs
        {
            Cache = desc, Key = kb.Address, Value = vb.Address, SlotMapping = sb.Address, NumTokens = total + 1,
            Layer = Layer, KeyStride = kvStride, ValueStride = kvStride, DType = DType.F32,
        });

        // Every written element holds exactly the rounded bits at its documented slot.
        var bits = cache.ToArray<ushort>();
        for (int t = 0; t < total; t++)
        {
            long blk = slots[t] / blockSize, off = slots[t] % blockSize;
            for (int h = 0; h < kvHeads; h++)
            {
                for (int d = 0; d < headSize; d++)
                {
                    long k = ((((((blk * NumLayers) + Layer) * 2 * kvHeads) + h) * blockSize) + off) * headSize + d;
                    long v = k + ((long)kvHeads * blockSize * headSize);
                    int src = (t * kvStride) + (h * headSize) + d;
                    if (bits[k] != Round(dt, keys[src]) || bits[v] != Round(dt, values[src]))
                        Assert.Fail($"token {t} head {h} element {d}: cache holds {bits[k]:x4}/{bits[v]:x4}, rounding gives {Round(dt, keys[src]):x4}/{Round(dt, values[src]):x4}");
                }
            }
        }

        var kr = keys.Select(x => Widen(dt, Round(dt, x))).ToArray();
        var vr = values.Select(x => Widen(dt, Round(dt, x))).ToArray();
        int numTokens = seqs.Sum(s => s.QLen), qStride = (heads * headSize) + 1;
        var query = TestData.Uniform(numTokens * qStride, 23);
        var queryStart = PagedAttentionReference.QueryStart(seqs);
        float scale = 1f / MathF.Sqrt(headSize);
        var onRounded = PagedAttentionReference.Dense(seqs, queryStart, first, query, qStride, kr, vr, kvStride, heads, gqa, headSize, scale, window);
        var onExact = PagedAttentionReference.Dense(seqs, queryStart, first, query, qStride, keys, values, kvStride, heads, gqa, headSize, scale, window);

        using var qb = ctx.Upload<float>(query);
        using var tb = ctx.Upload<int>(tables);
        using var lb = ctx.Upload<int>(seqs.Select(s => s.Len).ToArray());
        using var qsb = ctx.Upload<int>(queryStart);
        using var ob = ctx.Allocate<float>(onRounded.Length);
        var args = new AttentionArgs
        {
            Out = ob.Address, Query = qb.Address, Cache = desc, BlockTables = tb.Address, SeqLens = lb.Address,
            QueryStart = qsb.Address, NumSeqs = numSeqs, NumTokens = numTokens, NumHeads = heads, MaxBlocksPerSeq = maxBlocks,
            Layer = Layer, QStride = qStride, Scale = scale, MaxSeqLen = seqs.Max(s => s.Len), SlidingWindow = window, DType = DType.F32,
        };

        // Against the rounded K/V the kernels are fp32 attention: the fp32 tolerance of PagedAttentionTests
        // (~1e-7 per term over <= 128 positions). Against the unrounded K/V the rounding itself shows: with
        // unit roundoff u (bf16 2^-8, f16 2^-11) and |q|, |k|, |v| <= 1, each score moves by at most
        // d = scale * head_size * u = sqrt(head_size) * u, so each softmax weight by a factor within
        // e^(+-2d): the output moves by at most (e^(2d) - 1) + u. A bound, not an estimate: it only
        // fails when something other than rounding (a wrong row, a lost element) is wrong.
        double u = dt == DType.BF16 ? 1.0 / 256 : 1.0 / 2048;
        double bound = Math.Exp(2 * Math.Sqrt(headSize) * u) - 1 + u;
        ctx.AttentionPrefill(args);
        var got = ob.ToArray<float>();
        TestData.AssertClose(onRounded, got, 2e-5, 1e-4, $"prefill over a {dt} cache");
        TestData.AssertClose(onExact, got, bound, 0, $"prefill over a {dt} cache vs unrounded K/V");
        if (seqs.All(s => s.QLen == 1))
        {
            ctx.Memset(ob.Address, 0, onRounded.Length * sizeof(float));
            ctx.AttentionDecode(args);
            TestData.AssertClose(onRounded, ob.ToArray<float>(), 2e-5, 1e-4, $"decode over a {dt} cache");
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public unsafe void BlockCopyAndSwapMoveHalfBlocksWhole(string backend)
    {
        var ctx = Backends.Context(backend);
        var desc = new KvCacheDesc { NumBlocks = 5, NumLayers = 3, NumKvHeads = 2, BlockSize = 3, HeadSize = 8, DType = DType.BF16 };
        int perBlock = 3 * 2 * 2 * 3 * 8; // ushorts: half the bytes of an f32 block
        var rng = new Random(5);
        var data = Enumerable.Range(0, 5 * perBlock).Select(_ => (ushort)rng.Next(0, 0x7f80)).ToArray();
        using var cache = ctx.Upload<ushort>(data);
        desc.Data = cache.Address;
        using var pairs = ctx.Upload<int>([0, 3, 3, 4]); // 0 -> 3, then 3 (the copy) -> 4
        ctx.BlockCopy(new BlockCopyArgs { Cache = desc, Pairs = pairs.Address, NumPairs = 2 });
        var expected = (ushort[])data.Clone();
        Array.Copy(data, 0, expected, 3 * perBlock, perBlock);
        Array.Copy(data, 0, expected, 4 * perBlock, perBlock);
        CollectionAssert.AreEqual(expected, cache.ToArray<ushort>());

        using var host = ctx.AllocateHost(2L * perBlock * sizeof(ushort));
        int[] outPairs = [1, 1, 2, 0];
        fixed (int* p = outPairs)
            ctx.BlockSwap(new BlockSwapArgs { Cache = desc, Host = host.Address, Pairs = (nint)p, NumHostBlocks = 2, NumPairs = 2, Direction = SwapDirection.Out });
        ctx.Synchronize();
        CollectionAssert.AreEqual(data.AsSpan(2 * perBlock, perBlock).ToArray(), host.AsSpan<ushort>(0, perBlock).ToArray(), "slot 0 holds block 2");
        CollectionAssert.AreEqual(data.AsSpan(1 * perBlock, perBlock).ToArray(), host.AsSpan<ushort>(perBlock, perBlock).ToArray(), "slot 1 holds block 1");
        int[] inPairs = [1, 0];
        fixed (int* p = inPairs)
            ctx.BlockSwap(new BlockSwapArgs { Cache = desc, Host = host.Address, Pairs = (nint)p, NumHostBlocks = 2, NumPairs = 1, Direction = SwapDirection.In });
        Array.Copy(data, 1 * perBlock, expected, 0, perBlock);
        CollectionAssert.AreEqual(expected, cache.ToArray<ushort>());
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void MixedHalfTypesAreRejectedNamingBoth(string backend)
    {
        var ctx = Backends.Context(backend);
        using var cache = ctx.Allocate<ushort>(2 * 2 * 4 * 8);
        using var kv = ctx.Allocate<ushort>(8);
        using var slots = ctx.Upload<long>([0]);
        var desc = new KvCacheDesc { Data = cache.Address, NumBlocks = 2, NumLayers = 1, NumKvHeads = 1, BlockSize = 4, HeadSize = 8, DType = DType.BF16 };
        var args = new CacheWriteArgs { Cache = desc, Key = kv.Address, Value = kv.Address, SlotMapping = slots.Address, NumTokens = 1, KeyStride = 8, ValueStride = 8, DType = DType.F16 };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.CacheWrite(args));
        Assert.AreEqual(Status.DType, e.Status);
        StringAssert.Contains(e.Message, "cache_write: ");
        StringAssert.Contains(e.Message, "dtype");
        args.DType = (DType)9;
        Assert.AreEqual(Status.InvalidArgument, Assert.ThrowsExactly<BackendException>(() => ctx.CacheWrite(args)).Status);
    }

    // Round to nearest even: System.Half for f16; for bf16 the upper 16 bits after adding 0x7fff plus the
    // lowest kept bit (ties go to the even one). NaN does not occur in these inputs.
    internal static ushort Round(DType dt, float x)
    {
        if (dt == DType.F16)
            return BitConverter.HalfToUInt16Bits((Half)x);
        uint u = BitConverter.SingleToUInt32Bits(x);
        return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }

    internal static float Widen(DType dt, ushort h) =>
        dt == DType.F16 ? (float)BitConverter.UInt16BitsToHalf(h) : BitConverter.UInt32BitsToSingle((uint)h << 16);
}
