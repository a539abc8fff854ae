using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// KV-cache write, paged attention (decode and chunked prefill) and block copy against a dense
/// reference. Sequences get random block tables over a larger pool; every slot not written by a test
/// is NaN, so reading anything beyond a sequence's length poisons the result. With a sliding window,
/// the table entries of blocks wholly before the window are pointed at a NaN block once the cache is
/// written (the KV manager may free them): reading them poisons the result too.
/// </summary>
[TestClass]
public sealed class PagedAttentionTests
{
    private const int NumLayers = 2;
    private const int Layer = 1;

    public static IEnumerable<object[]> Cases()
    {
        // backend, block size, head size, kv heads, gqa ratio, "seqLen:qLen,...", sliding window (0: none)
        string[] backends = ["cpu", "simt", "cuda"];
        foreach (string b in backends)
        {
            yield return [b, 16, 8, 4, 2, "1:1", 0];                             // one token
            yield return [b, 16, 8, 4, 2, "15:1,16:1,17:1,200:1", 0];            // mid-block, boundary, many blocks (decode)
            yield return [b, 8, 64, 1, 8, "9:9,33:33", 0];                       // whole-prompt prefill, GQA 8
            yield return [b, 16, 128, 2, 1, "40:7,16:16,5:1", 0];                // chunk after a cached prefix, mixed with decode
            yield return [b, 32, 64, 2, 4, "100:30,1:1,64:1,65:2", 0];
            yield return [b, 16, 16, 2, 4, "37:1,5:1,16:1,101:1", 0];            // head size 16 (the tiny HF models)

            // Sliding windows (Mistral: p - W < k <= p): the tiny model's 24 at head size 16, decode and
            // chunked prefill; a window of one position; windows crossing block boundaries; windows
            // larger than every context; GQA 1 and 4; head sizes 16, 64, 80, 128.
            yield return [b, 16, 16, 2, 4, "37:1,5:1,24:1,25:1,101:1", 24];
            yield return [b, 16, 16, 2, 4, "40:7,24:24,60:33,3:1", 24];
            yield return [b, 8, 64, 2, 1, "30:1,9:9,50:17", 1];
            yield return [b, 8, 128, 1, 4, "45:1,13:1,14:1,70:20", 13];
            yield return [b, 16, 80, 2, 4, "33:5,17:1,80:1", 500];
        }

        yield return ["cpu", 16, 256, 1, 4, "512:1,300:17", 0];                  // longest context of the test model
        yield return ["cpu", 1, 8, 3, 1, "7:3,2:2", 0];                          // block size 1, odd head count
        yield return ["cpu", 1, 16, 3, 1, "9:3,2:2,20:1", 4];                    // block size 1 with a window
        yield return ["cpu", 16, 24, 2, 2, "50:9,31:1", 10];                     // head size not a multiple of 16 (AVX2 generic path)
        yield return ["cpu", 16, 12, 2, 2, "50:9,31:1", 10];                     // nor of 8 (portable path)
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void Attention_MatchesDenseReference(string backend, int blockSize, int headSize, int kvHeads, int gqa, string spec, int window)
    {
        var ctx = Backends.Context(backend);
        var seqs = PagedAttentionReference.ParseSeqs(spec);
        int heads = kvHeads * gqa, numSeqs = seqs.Length;
        int maxBlocks = seqs.Max(s => (s.Len + blockSize - 1) / blockSize);
        int numBlocks = seqs.Sum(s => (s.Len + blockSize - 1) / blockSize) + 11;
        var rng = new Random(blockSize * 1000 + headSize + kvHeads + gqa + window);

        // Random distinct physical blocks for every sequence.
        var tables = PagedAttentionReference.RandomTables(seqs, blockSize, numBlocks, maxBlocks, rng, out var pool);

        // Dense keys/values per sequence, written to the cache with one cache_write (plus a padding slot).
        int kvWidth = kvHeads * headSize, kvStride = kvWidth + 5;
        int totalTokens = seqs.Sum(s => s.Len);
        var keys = TestData.Uniform((totalTokens + 1) * kvStride, 7);
        var values = TestData.Uniform((totalTokens + 1) * kvStride, 8);
        var slots = PagedAttentionReference.Slots(seqs, tables, maxBlocks, blockSize, out var firstToken); // + a padding token (slot -1: skipped)
        var desc = new KvCacheDesc { NumBlocks = numBlocks, NumLayers = NumLayers, NumKvHeads = kvHeads, BlockSize = blockSize, HeadSize = headSize };
        long cacheFloats = (long)numBlocks * NumLayers * 2 * kvWidth * blockSize;
        using var cache = ctx.Allocate<float>(cacheFloats);
        ctx.Memset(cache.Address, 0xFF, cacheFloats * sizeof(float)); // all NaN
        desc.Data = cache.Address;
        using var kb = ctx.Upload<float>(keys);
        using var vb = ctx.Upload<float>(values);
        using var sb = ctx.Upload<long>(slots);
        ctx.CacheWrite(new CacheWriteArgs
        {
            Cache = desc, Key = kb.Address, Value = vb.Address, SlotMapping = sb.Address,
            NumTokens = totalTokens + 1, Layer = Layer, KeyStride = kvStride, ValueStride = kvStride,
        });

        // First attended position of a query at pos (paged.h: p - W < k <= p).
        int FirstAttended(int pos) => window > 0 ? Math.Max(0, pos - window + 1) : 0;
        int spare = pool[^1]; // never written: NaN
        var liveTables = (int[])tables.Clone();
        for (int s = 0; s < numSeqs; s++)
        {
            int lo = FirstAttended(seqs[s].Len - seqs[s].QLen);
            for (int b = 0; (b + 1) * blockSize <= lo; b++)
                liveTables[(s * maxBlocks) + b] = spare;
        }

        // The layout is part of the ABI: check a sample of elements where paged.h says they live.
        var cacheHost = cache.ToArray<float>();
        for (int t = 0; t < totalTokens; t += Math.Max(1, totalTokens / 13))
        {
            long slot = slots[t];
            long blk = slot / blockSize, off = slot % blockSize;
            for (int h = 0; h < kvHeads; h++)
            {
                long kIdx = (((((blk * NumLayers) + Layer) * 2 * kvHeads) + h) * blockSize + off) * headSize;
                long vIdx = kIdx + ((long)kvHeads * blockSize * headSize);
                Assert.AreEqual(keys[(t * kvStride) + (h * headSize)], cacheHost[kIdx], "key at its documented slot");
                Assert.AreEqual(values[(t * kvStride) + (h * headSize) + headSize - 1], cacheHost[vIdx + headSize - 1], "value at its documented slot");
            }
        }

        // Queries: each sequence's last qLen positions.
        int numTokens = seqs.Sum(s => s.QLen);
        int qStride = (heads * headSize) + 3;
        var query = TestData.Uniform(numTokens * qStride, 9);
        var queryStart = PagedAttentionReference.QueryStart(seqs);
        float scale = 1f / MathF.Sqrt(headSize);
        var expected = PagedAttentionReference.Dense(seqs, queryStart, firstToken, query, qStride, keys, values, kvStride, heads, gqa, headSize, scale, window);

        using var qb = ctx.Upload<float>(query);
        using var tb = ctx.Upload<int>(liveTables);
        using var lb = ctx.Upload<int>(seqs.Select(s => s.Len).ToArray());
        using var qsb = ctx.Upload<int>(queryStart);
        using var ob = ctx.Allocate<float>(expected.Length);
        var args = new AttentionArgs
        {
            Out = ob.Address, Query = qb.Address, Cache = desc, BlockTables = tb.Address, SeqLens = lb.Address,
            QueryStart = qsb.Address, NumSeqs = numSeqs, NumTokens = numTokens, NumHeads = heads,
            MaxBlocksPerSeq = maxBlocks, Layer = Layer, QStride = qStride, Scale = scale, MaxSeqLen = seqs.Max(s => s.Len),
            SlidingWindow = window,
        };

        // Tolerance: softmax-weighted sums of values in [-1, 1] computed in fp32 against a double
        // reference: errors ~1e-7 per term, accumulated over <= 512 positions: 2e-5 absolute.
        ctx.AttentionPrefill(args);
        TestData.AssertClose(expected, ob.ToArray<float>(), 2e-5, 1e-4, "prefill attention");
        if (seqs.All(s => s.QLen == 1))
        {
            ctx.Memset(ob.Address, 0, expected.Length * sizeof(float));
            ctx.AttentionDecode(args);
            TestData.AssertClose(expected, ob.ToArray<float>(), 2e-5, 1e-4, "decode attention");
        }
        else
        {
            var e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.AttentionDecode(args));
            Assert.AreEqual(Status.Shape, e.Status, e.Message);
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Attention_RejectsBadBlockIdsAndLengths(string backend)
    {
        var ctx = Backends.Context(backend);
        var desc = new KvCacheDesc { NumBlocks = 4, NumLayers = 1, NumKvHeads = 1, BlockSize = 4, HeadSize = 8 };
        using var cache = ctx.Allocate<float>(4 * 2 * 4 * 8);
        desc.Data = cache.Address;
        using var q = ctx.Allocate<float>(8);
        using var o = ctx.Allocate<float>(8);
        using var tables = ctx.Upload<int>([0, 9]);
        using var lens = ctx.Upload<int>([6]);
        using var qs = ctx.Upload<int>([0, 1]);
        var args = new AttentionArgs
        {
            Out = o.Address, Query = q.Address, Cache = desc, BlockTables = tables.Address, SeqLens = lens.Address,
            QueryStart = qs.Address, NumSeqs = 1, NumTokens = 1, NumHeads = 1, MaxBlocksPerSeq = 2, Layer = 0,
            QStride = 8, Scale = 1, MaxSeqLen = 6,
        };
        var e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.AttentionDecode(args));
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "block_tables[0][1] = 9");
        e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.AttentionPrefill(args));
        StringAssert.Contains(e.Message, "block_tables[0][1] = 9");

        using var longLens = ctx.Upload<int>([9]);
        args.SeqLens = longLens.Address;
        args.MaxSeqLen = 9;
        e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.AttentionDecode(args)); // 9 > 2 blocks * 4
        StringAssert.Contains(e.Message, "seq_lens[0] = 9");
        e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.AttentionPrefill(args));
        StringAssert.Contains(e.Message, "seq_lens[0] = 9");
        args.Layer = 1;
        Assert.ThrowsExactly<BackendException>(() => ctx.AttentionDecode(args));
        args.Layer = 0;
        args.SlidingWindow = -1;
        e = Assert.ThrowsExactly<BackendException>(() => ctx.AttentionPrefill(args));
        Assert.AreEqual(Status.InvalidArgument, e.Status);
        StringAssert.Contains(e.Message, "sliding_window");
    }

    // With a window of 2, a decode query at position 5 (block size 4) reads only positions 4 and 5, in
    // block 1: block 0's table entry may be anything (the KV manager freed it) and is not rejected.
    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Attention_IgnoresTableEntriesBeforeTheWindow(string backend)
    {
        var ctx = Backends.Context(backend);
        var desc = new KvCacheDesc { NumBlocks = 2, NumLayers = 1, NumKvHeads = 1, BlockSize = 4, HeadSize = 8 };
        var data = TestData.Uniform(2 * 2 * 4 * 8, 13);
        using var cache = ctx.Upload<float>(data);
        desc.Data = cache.Address;
        var query = TestData.Uniform(8, 14);
        using var q = ctx.Upload<float>(query);
        using var o = ctx.Allocate<float>(8);
        using var tables = ctx.Upload<int>([-7, 1]);
        using var lens = ctx.Upload<int>([6]);
        using var qs = ctx.Upload<int>([0, 1]);
        var args = new AttentionArgs
        {
            Out = o.Address, Query = q.Address, Cache = desc, BlockTables = tables.Address, SeqLens = lens.Address,
            QueryStart = qs.Address, NumSeqs = 1, NumTokens = 1, NumHeads = 1, MaxBlocksPerSeq = 2, Layer = 0,
            QStride = 8, Scale = 0.5f, MaxSeqLen = 6, SlidingWindow = 2,
        };
        // Block 1 holds K rows at [1][0][0][row] and V rows at [1][0][1][row]; positions 4, 5 are rows 0, 1.
        int kBase = 1 * 2 * 4 * 8, vBase = kBase + (4 * 8);
        double s0 = 0, s1 = 0;
        for (int d = 0; d < 8; d++)
        {
            s0 += query[d] * data[kBase + d] * 0.5;
            s1 += query[d] * data[kBase + 8 + d] * 0.5;
        }

        double p0 = 1 / (1 + Math.Exp(s1 - s0)), p1 = 1 - p0;
        var expected = Enumerable.Range(0, 8).Select(d => (float)((p0 * data[vBase + d]) + (p1 * data[vBase + 8 + d]))).ToArray();
        ctx.AttentionDecode(args);
        TestData.AssertClose(expected, o.ToArray<float>(), 1e-6, 1e-5, "decode in the window");
        ctx.AttentionPrefill(args);
        TestData.AssertClose(expected, o.ToArray<float>(), 1e-6, 1e-5, "prefill in the window");
        args.SlidingWindow = 3; // now position 3 (block 0) is in the window: its bad entry is an error
        Assert.AreEqual(Status.OutOfRange, Assert.ThrowsExactly<BackendException>(() => ctx.AttentionDecode(args)).Status);
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void BlockCopy_CopiesWholeBlocksAcrossLayers(string backend)
    {
        var ctx = Backends.Context(backend);
        var desc = new KvCacheDesc { NumBlocks = 6, NumLayers = 3, NumKvHeads = 2, BlockSize = 4, HeadSize = 8 };
        int perBlock = 3 * 2 * 2 * 4 * 8;
        var data = TestData.Uniform(6 * perBlock, 11);
        using var cache = ctx.Upload<float>(data);
        desc.Data = cache.Address;
        using var pairs = ctx.Upload<int>([0, 3, 2, 5, 4, 4]);
        ctx.BlockCopy(new BlockCopyArgs { Cache = desc, Pairs = pairs.Address, NumPairs = 3 });
        var expected = (float[])data.Clone();
        Array.Copy(data, 0, expected, 3 * perBlock, perBlock);
        Array.Copy(data, 2 * perBlock, expected, 5 * perBlock, perBlock);
        CollectionAssert.AreEqual(expected, cache.ToArray<float>());

        using var bad = ctx.Upload<int>([1, 6]);
        var e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.BlockCopy(new BlockCopyArgs { Cache = desc, Pairs = bad.Address, NumPairs = 1 }));
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "pairs[0][1] = 6");
        CollectionAssert.AreEqual(expected, cache.ToArray<float>(), "the rejected list copied nothing");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public unsafe void BlockSwap_RoundTripsWholeBlocksThroughTheHostPool(string backend)
    {
        var ctx = Backends.Context(backend);
        var desc = new KvCacheDesc { NumBlocks = 6, NumLayers = 3, NumKvHeads = 2, BlockSize = 4, HeadSize = 8 };
        int perBlock = 3 * 2 * 2 * 4 * 8;
        var data = TestData.Uniform(6 * perBlock, 12);
        using var cache = ctx.Upload<float>(data);
        desc.Data = cache.Address;
        using var host = ctx.AllocateHost(3L * perBlock * sizeof(float));
        int[] outPairs = [4, 0, 1, 2]; // cache block 4 -> slot 0, cache block 1 -> slot 2
        fixed (int* p = outPairs)
        {
            ctx.BlockSwap(new BlockSwapArgs
            {
                Cache = desc, Host = host.Address, Pairs = (nint)p, NumHostBlocks = 3, NumPairs = 2, Direction = SwapDirection.Out,
            });
        }

        ctx.Synchronize(); // the swap is enqueued; the pool is read after a wait

        CollectionAssert.AreEqual(data.AsSpan(4 * perBlock, perBlock).ToArray(), host.AsSpan<float>(0, perBlock).ToArray(), "slot 0 holds block 4");
        CollectionAssert.AreEqual(data.AsSpan(1 * perBlock, perBlock).ToArray(), host.AsSpan<float>(2L * perBlock, perBlock).ToArray(), "slot 2 holds block 1");

        ctx.Memset(cache.Address, 0, data.Length * sizeof(float));
        int[] inPairs = [2, 5, 0, 3]; // slot 2 -> cache block 5, slot 0 -> cache block 3
        fixed (int* p = inPairs)
        {
            ctx.BlockSwap(new BlockSwapArgs
            {
                Cache = desc, Host = host.Address, Pairs = (nint)p, NumHostBlocks = 3, NumPairs = 2, Direction = SwapDirection.In,
            });
        }

        var expected = new float[data.Length];
        Array.Copy(data, 1 * perBlock, expected, 5 * perBlock, perBlock);
        Array.Copy(data, 4 * perBlock, expected, 3 * perBlock, perBlock);
        CollectionAssert.AreEqual(expected, cache.ToArray<float>());

        int[] bad = [0, 3]; // host slot 3 of 3
        fixed (int* p = bad)
        {
            var args = new BlockSwapArgs { Cache = desc, Host = host.Address, Pairs = (nint)p, NumHostBlocks = 3, NumPairs = 1, Direction = SwapDirection.Out };
            var e = Assert.ThrowsExactly<BackendException>(() => ctx.BlockSwap(args));
            Assert.AreEqual(Status.OutOfRange, e.Status);
            StringAssert.Contains(e.Message, "host slots");
            args.Direction = (SwapDirection)7;
            Assert.AreEqual(Status.InvalidArgument, Assert.ThrowsExactly<BackendException>(() => ctx.BlockSwap(args)).Status);
        }
    }
}
