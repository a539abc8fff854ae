namespace Paged.Runtime.Tests;

/// <summary>
/// The step upload is double-buffered on the host: a step that reads nothing back (an intermediate chunk
/// of a chunked prefill) does not make the next step wait; the step after that, which reuses the first
/// buffer while its copy may still be reading it, waits once; a read-back in between makes that wait
/// unnecessary. Counted with the backend's host-wait counter (simt and cuda count waits; cpu does not).
/// </summary>
[TestClass]
public sealed unsafe class StagingBufferTests
{
    [TestMethod]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void AlternateBuffersWaitOnlyForACopyNotWaitedFor(string backend)
    {
        var ctx = Backends.Context(backend);
        using var staging = new StagingBuffer(ctx);
        long start = ctx.Counters.HostSyncs;

        staging.Clear();
        staging.Stage<int>([1, 2, 3]);
        staging.Flush();
        staging.Clear();
        staging.Stage<int>([4, 5]);
        staging.Flush();
        Assert.AreEqual(start, ctx.Counters.HostSyncs, "the second step stages into the other buffer: no wait");

        staging.Clear();
        Assert.AreEqual(start + 1, ctx.Counters.HostSyncs, "the third step reuses the first buffer, whose copy was never waited for");
        int[] data = [7, 8, 9, 10];
        long third = staging.Stage<int>(data);
        staging.Flush();

        var got = new int[4];
        fixed (int* p = got)
            ctx.CopyToHost(p, staging.Address(third), 4 * sizeof(int)); // a read-back: one wait
        CollectionAssert.AreEqual(data, got, "the third step's data arrived");
        long afterRead = ctx.Counters.HostSyncs;
        staging.Clear();
        Assert.AreEqual(afterRead, ctx.Counters.HostSyncs, "the host waited after the second buffer's copy: no wait");
    }
}
