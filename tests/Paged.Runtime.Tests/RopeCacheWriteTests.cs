using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// rope_cache_write against the unfused pair on the same backend (rope, then cache_write; each tested
/// against plain references in RopeTests and PagedAttentionTests): q, k and every byte of the cache are
/// identical, bit for bit (paged.h promises the same results). Awkward sizes: partial rotary dims, both
/// styles, an inv_freq table, GQA, a padding token, block sizes that do not divide the token count, f32
/// and half caches.
/// </summary>
[TestClass]
public sealed class RopeCacheWriteTests
{
    public static IEnumerable<object[]> Cases()
    {
        // backend, tokens, heads, kv heads, head size, rotary dim, style, cache dtype, block size, inv_freq table
        foreach (string b in new[] { "cpu", "simt", "cuda" })
        {
            yield return [b, 1, 8, 4, 8, 8, RopeStyle.AdjacentPairs, DType.F32, 16, false];
            yield return [b, 13, 6, 2, 16, 16, RopeStyle.RotateHalf, DType.F32, 5, true];
            yield return [b, 37, 4, 4, 64, 32, RopeStyle.AdjacentPairs, DType.BF16, 16, false]; // partial rotary dim
            yield return [b, 9, 12, 3, 80, 80, RopeStyle.RotateHalf, DType.F16, 3, true];
            yield return [b, 70, 2, 1, 128, 96, RopeStyle.RotateHalf, DType.BF16, 32, false];
        }
    }

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void FusedEqualsRopeThenCacheWrite(string backend, int tokens, int heads, int kvHeads, int headSize, int rotaryDim,
        RopeStyle style, DType cacheType, int blockSize, bool table)
    {
        var ctx = Backends.Context(backend);
        int qDim = heads * headSize, kvDim = kvHeads * headSize, stride = qDim + (2 * kvDim) + 3; // the fused qkv row, padded
        var qkv = TestData.Uniform(tokens * stride, tokens + headSize, 2f);
        var rng = new Random(headSize * 7 + tokens);
        var positions = Enumerable.Range(0, tokens).Select(_ => rng.Next(0, 4000)).ToArray();
        int numBlocks = (tokens / blockSize) + 4;
        var slots = Enumerable.Range(0, numBlocks * blockSize).OrderBy(_ => rng.Next()).Take(tokens).Select(s => (long)s).ToArray();
        slots[tokens / 2] = -1; // a padding token: rotated, not written
        var invFreq = Enumerable.Range(0, rotaryDim / 2).Select(i => 1f / MathF.Pow(500000f, 2f * i / rotaryDim) / (1 + (i % 3))).ToArray();
        int elem = cacheType == DType.F32 ? 4 : 2;
        long cacheBytes = (long)numBlocks * 3 * 2 * kvDim * blockSize * elem;

        using var pos = ctx.Upload<int>(positions);
        using var sl = ctx.Upload<long>(slots);
        using var freq = ctx.Upload<float>(invFreq);
        (float[] Qkv, byte[] Cache) Run(bool fused)
        {
            using var x = ctx.Upload<float>(qkv);
            using var cache = ctx.Allocate<byte>(cacheBytes);
            ctx.Memset(cache.Address, 0x7F, cacheBytes);
            var rope = new RopeArgs
            {
                Q = x.Address, K = x.At<float>(qDim), Positions = pos.Address, NumTokens = tokens, NumHeads = heads, NumKvHeads = kvHeads,
                HeadSize = headSize, RotaryDim = rotaryDim, QStride = stride, KStride = stride, Style = style, Theta = 10000f,
                DType = DType.F32, InvFreq = table ? freq.Address : 0,
            };
            var write = new CacheWriteArgs
            {
                Cache = new KvCacheDesc { Data = cache.Address, NumBlocks = numBlocks, NumLayers = 3, NumKvHeads = kvHeads, BlockSize = blockSize, HeadSize = headSize, DType = cacheType },
                Key = x.At<float>(qDim), Value = x.At<float>(qDim + kvDim), SlotMapping = sl.Address, NumTokens = tokens, Layer = 2,
                KeyStride = stride, ValueStride = stride, DType = DType.F32,
            };
            if (fused)
            {
                ctx.RopeCacheWrite(new RopeCacheWriteArgs { Rope = rope, CacheWrite = write });
            }
            else
            {
                ctx.Rope(rope);
                ctx.CacheWrite(write);
            }

            return (x.ToArray<float>(), cache.ToArray<byte>());
        }

        var (pairQkv, pairCache) = Run(fused: false);
        var (fusedQkv, fusedCache) = Run(fused: true);
        CollectionAssert.AreEqual(pairQkv, fusedQkv, "q and k after rotation (v untouched)");
        CollectionAssert.AreEqual(pairCache, fusedCache, "every byte of the cache");
        CollectionAssert.AreNotEqual(qkv, fusedQkv, "something was rotated");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void RejectsHalvesThatDisagreeAndBadIndices(string backend)
    {
        var ctx = Backends.Context(backend);
        using var x = ctx.Allocate<float>(3 * 24);
        using var cache = ctx.Allocate<float>(2 * 2 * 8 * 8);
        using var pos = ctx.Upload<int>([0, -3]);
        using var sl = ctx.Upload<long>([0, 1]);
        var args = new RopeCacheWriteArgs
        {
            Rope = new RopeArgs
            {
                Q = x.Address, K = x.At<float>(8), Positions = pos.Address, NumTokens = 2, NumHeads = 1, NumKvHeads = 1,
                HeadSize = 8, RotaryDim = 8, QStride = 24, KStride = 24, Theta = 10000f,
            },
            CacheWrite = new CacheWriteArgs
            {
                Cache = new KvCacheDesc { Data = cache.Address, NumBlocks = 2, NumLayers = 1, NumKvHeads = 1, BlockSize = 8, HeadSize = 8 },
                Key = x.At<float>(16), Value = x.At<float>(16), SlotMapping = sl.Address, NumTokens = 2, KeyStride = 24, ValueStride = 24,
            },
        };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.RopeCacheWrite(args));
        Assert.AreEqual(Status.Shape, e.Status);
        StringAssert.Contains(e.Message, "): rope_cache_write: the halves disagree");

        args.CacheWrite.Key = args.Rope.K;
        args.Rope.RotaryDim = 9;
        e = Assert.ThrowsExactly<BackendException>(() => ctx.RopeCacheWrite(args));
        StringAssert.Contains(e.Message, "): rope_cache_write: rope: ");

        args.Rope.RotaryDim = 8;
        e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.RopeCacheWrite(args));
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "positions[1] = -3");
    }
}
