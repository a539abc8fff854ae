namespace Paged.Server.Tests;

[TestClass]
public sealed class RecentRequestsTests
{
    private static RequestRecord Record(int i) =>
        new($"r{i}", "", DateTimeOffset.UnixEpoch.AddSeconds(i), 0, 0.1, 0.01, 1, 10, 0, 5, 0, "stop");

    [TestMethod]
    public void KeepsTheNewestNewestFirst()
    {
        var ring = new RecentRequests(3);
        Assert.HasCount(0, ring.Newest());
        ring.Add(Record(1));
        ring.Add(Record(2));
        CollectionAssert.AreEqual(new[] { "r2", "r1" }, ring.Newest().Select(r => r.Id).ToArray());
        for (int i = 3; i <= 7; i++)
            ring.Add(Record(i));
        CollectionAssert.AreEqual(new[] { "r7", "r6", "r5" }, ring.Newest().Select(r => r.Id).ToArray());
        Assert.AreEqual(7, ring.Added);
        Assert.AreEqual(3, ring.Capacity);
    }

    [TestMethod]
    public void CapacityZeroCountsButKeepsNothing()
    {
        var ring = new RecentRequests(0);
        ring.Add(Record(1));
        Assert.AreEqual(1, ring.Added);
        Assert.HasCount(0, ring.Newest());
    }

    [TestMethod]
    public async Task ConcurrentWritersAndReadersSeeWholeRecords()
    {
        var ring = new RecentRequests(16);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 2000; i++)
                ring.Add(Record((w * 10_000) + i));
        })).ToArray();
        var reader = Task.Run(async () =>
        {
            while (!writers.All(t => t.IsCompleted))
            {
                var seen = ring.Newest();
                Assert.IsTrue(seen.Count <= 16 && seen.All(r => r is not null));
                Assert.HasCount(seen.Count, seen.Select(r => r.Id).Distinct());
                await Task.Yield();
            }
        });
        await Task.WhenAll(writers);
        await reader;
        Assert.AreEqual(8000, ring.Added);
        Assert.HasCount(16, ring.Newest());
        // Each writer's records arrive in its own order: the newest record of a writer is its last.
        Assert.IsTrue(ring.Newest().Any(r => r.Id.EndsWith("1999", StringComparison.Ordinal)));
    }
}
