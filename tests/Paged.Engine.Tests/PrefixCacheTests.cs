using Paged.Engine.Kv;

namespace Paged.Engine.Tests;

/// <summary>Block pool and prefix cache on tiny pools with exact block ids, in the style of vLLM's prefix-caching tests.</summary>
[TestClass]
public sealed class PrefixCacheTests
{
    private static long _seqIds;

    private static Sequence Seq(params int[] prompt)
    {
        var r = new Request(Interlocked.Increment(ref _seqIds), "", prompt, new SamplingParams(), 0);
        r.CreateSequences(1, ref _seqIds);
        return r.Sequences[0];
    }

    private static void Compute(KvCacheManager kv, Sequence seq, StepPlan plan)
    {
        int hits = kv.FindCachedPrefix(seq, out _);
        kv.AttachCachedPrefix(seq, hits);
        Assert.IsTrue(kv.TryAllocate(seq, seq.Length - seq.NumComputed, plan));
        int old = seq.NumComputed;
        seq.NumComputed = seq.Length;
        kv.OnComputed(seq, old);
    }

    [TestMethod]
    public void Pool_FreeListIsLruWithRemovalFromTheMiddle()
    {
        var pool = new BlockPool(5, 4);
        for (int i = 0; i < 5; i++)
            Assert.AreEqual(i, pool.AllocateFresh());
        Assert.AreEqual(0, pool.NumFree);
        Assert.ThrowsExactly<InvalidOperationException>(() => pool.AllocateFresh());
        pool.Release(3, keepLonger: true);
        pool.Release(1, keepLonger: true);
        pool.Release(4, keepLonger: true);
        CollectionAssert.AreEqual(new[] { 3, 1, 4 }, pool.FreeListOrder().ToArray());
        pool.Retain(1); // revived from the middle
        CollectionAssert.AreEqual(new[] { 3, 4 }, pool.FreeListOrder().ToArray());
        Assert.AreEqual(1, pool.RefCount(1));
        pool.Release(0, keepLonger: false); // nothing worth keeping: reused first
        CollectionAssert.AreEqual(new[] { 0, 3, 4 }, pool.FreeListOrder().ToArray());
        Assert.AreEqual(0, pool.AllocateFresh());
        Assert.AreEqual(3, pool.AllocateFresh());
        Assert.ThrowsExactly<InvalidOperationException>(() => pool.Release(3, true) && pool.Release(3, true));
    }

    [TestMethod]
    public void SharedPrefix_ReusesFullBlocksWithExactIds_AndRecomputesTheLastToken()
    {
        var kv = new KvCacheManager(10, 4, prefixCaching: true, swapSlots: 0);
        var plan = new StepPlan();
        var a = Seq(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        Compute(kv, a, plan);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, a.BlockTable);
        Assert.IsTrue(kv.PrefixCache!.IsCached(0) && kv.PrefixCache.IsCached(1) && !kv.PrefixCache.IsCached(2));
        CollectionAssert.AreEqual(new[] { 4, 5, 6, 7 }, kv.PrefixCache.TokensOf(1).ToArray());

        var b = Seq(0, 1, 2, 3, 4, 5, 6, 7, 42, 43);
        Assert.AreEqual(2, kv.FindCachedPrefix(b, out int revived));
        Assert.AreEqual(0, revived);
        Compute(kv, b, plan);
        CollectionAssert.AreEqual(new[] { 0, 1, 3 }, b.BlockTable);
        Assert.AreEqual(2, kv.Pool.RefCount(0));
        Assert.AreEqual(2, kv.Pool.RefCount(1));

        // A prompt of exactly two full cached blocks still computes its last token: only block 0 is reused.
        var c = Seq(0, 1, 2, 3, 4, 5, 6, 7);
        Assert.AreEqual(1, kv.FindCachedPrefix(c, out _));
        Compute(kv, c, plan);
        CollectionAssert.AreEqual(new[] { 0, 4 }, c.BlockTable);
        Assert.IsFalse(kv.PrefixCache.IsCached(4), "block 4 holds the same tokens as block 1, which keeps the key");
        Assert.AreEqual(4, kv.PrefixCache.Queries, "a: 1 miss; b: 2 hits; c: 1 hit");
        Assert.AreEqual(3, kv.PrefixCache.Hits);
        Assert.AreEqual(0, plan.Copies.Count);
    }

    [TestMethod]
    public void FreedBlocks_StayRevivable_AndAreEvictedTailFirstInLruOrder()
    {
        var kv = new KvCacheManager(6, 4, prefixCaching: true, swapSlots: 0);
        var plan = new StepPlan();
        var a = Seq(0, 1, 2, 3, 4, 5, 6, 7, 8);
        Compute(kv, a, plan);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, a.BlockTable);
        kv.Free(a);
        // Never used blocks first, then the uncached partial block 2 (front), then the cached ones, tail block first.
        CollectionAssert.AreEqual(new[] { 2, 3, 4, 5, 1, 0 }, kv.Pool.FreeListOrder().ToArray());

        var b = Seq(0, 1, 2, 3, 4, 5, 6, 7, 99);
        Assert.AreEqual(2, kv.FindCachedPrefix(b, out int revived));
        Assert.AreEqual(2, revived, "both cached blocks are free and get revived");
        Compute(kv, b, plan);
        CollectionAssert.AreEqual(new[] { 0, 1, 2 }, b.BlockTable);
        kv.Free(b);

        // Fill the pool with unrelated blocks: the LRU order evicts 2, 3, 4, 5, then block 1 before block 0.
        var d = Seq([.. Enumerable.Range(100, 5 * 4)]);
        Compute(kv, d, plan);
        CollectionAssert.AreEqual(new[] { 2, 3, 4, 5, 1 }, d.BlockTable);
        CollectionAssert.AreEqual(new[] { 116, 117, 118, 119 }, kv.PrefixCache!.TokensOf(1).ToArray(), "block 1 now caches d's last block");
        Assert.IsTrue(kv.PrefixCache.IsCached(0));
        kv.Free(d);
        var e = Seq(0, 1, 2, 3, 4, 5, 6, 7, 8);
        Assert.AreEqual(1, kv.FindCachedPrefix(e, out _), "the first block survived, the second was evicted");
    }

    [TestMethod]
    public void HashCollision_NeverServesWrongKv()
    {
        var kv = new KvCacheManager(8, 2, prefixCaching: true, swapSlots: 0, hasher: (_, _, _) => 7); // every block collides
        var plan = new StepPlan();
        var a = Seq(1, 2, 3);
        Compute(kv, a, plan);
        Assert.IsTrue(kv.PrefixCache!.IsCached(a.BlockTable[0]));
        var b = Seq(5, 6, 7);
        Assert.AreEqual(0, kv.FindCachedPrefix(b, out _), "same key, other tokens: no hit");
        Compute(kv, b, plan);
        Assert.AreNotEqual(a.BlockTable[0], b.BlockTable[0]);
        Assert.IsFalse(kv.PrefixCache.IsCached(b.BlockTable[0]), "the colliding key stays with the first block");
        var c = Seq(1, 2, 9);
        Assert.AreEqual(1, kv.FindCachedPrefix(c, out _), "the genuine prefix still hits");
    }

    [TestMethod]
    public void ExtraKey_SeparatesOtherwiseEqualPrefixes()
    {
        var k1 = PrefixCache.Hash(PrefixCache.RootKey, [1, 2, 3, 4], 0);
        var k2 = PrefixCache.Hash(PrefixCache.RootKey, [1, 2, 3, 4], 1);
        var k3 = PrefixCache.Hash(k1, [1, 2, 3, 4], 0);
        Assert.AreNotEqual(k1, k2);
        Assert.AreNotEqual(k1, k3);
        Assert.AreEqual(k1, PrefixCache.Hash(PrefixCache.RootKey, [1, 2, 3, 4], 0));
    }

    [TestMethod]
    public void Fork_SharesThePartialBlock_AndTheFirstWriterCopiesIt()
    {
        var kv = new KvCacheManager(8, 4, prefixCaching: true, swapSlots: 0);
        var plan = new StepPlan();
        var r = new Request(1000, "", [1, 2, 3, 4, 5, 6], new SamplingParams { N = 3 }, 0);
        long ids = 5000;
        r.CreateSequences(1, ref ids);
        var (p, c1, c2) = (r.Sequences[0], r.Sequences[1], r.Sequences[2]);
        Compute(kv, p, plan);
        CollectionAssert.AreEqual(new[] { 0, 1 }, p.BlockTable);
        kv.Fork(p, c1);
        kv.Fork(p, c2);
        Assert.AreEqual(3, kv.Pool.RefCount(1));
        foreach (var s in new[] { c1, c2, p })
            s.Append(9);
        Assert.IsTrue(kv.TryAllocate(c1, 1, plan));
        Assert.IsTrue(kv.TryAllocate(c2, 1, plan));
        Assert.IsTrue(kv.TryAllocate(p, 1, plan));
        CollectionAssert.AreEqual(new[] { new BlockMove(1, 2), new BlockMove(1, 3) }, plan.Copies);
        CollectionAssert.AreEqual(new[] { 0, 2 }, c1.BlockTable);
        CollectionAssert.AreEqual(new[] { 0, 3 }, c2.BlockTable);
        CollectionAssert.AreEqual(new[] { 0, 1 }, p.BlockTable, "the last writer owns the original");
        Assert.AreEqual(3, kv.Pool.RefCount(0));
        Assert.AreEqual(1, kv.Pool.RefCount(1));
        Assert.AreEqual(2, kv.Pool.Filled(2), "the copy holds the two prompt tokens of the partial block");
    }

    [TestMethod]
    public void PrefixCachingOff_SharesNothing()
    {
        var kv = new KvCacheManager(8, 2, prefixCaching: false, swapSlots: 0);
        var plan = new StepPlan();
        var a = Seq(1, 2, 3, 4, 5);
        Compute(kv, a, plan);
        var b = Seq(1, 2, 3, 4, 5);
        Assert.AreEqual(0, kv.FindCachedPrefix(b, out _));
        Compute(kv, b, plan);
        Assert.IsFalse(a.BlockTable.Intersect(b.BlockTable).Any());
        Assert.IsNull(kv.PrefixCache);
    }
}
