using System.Runtime.InteropServices;
using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// The emulator's device address space (SIMT.md): memory from alloc is device memory, everything else
/// host memory, and -- as on a GPU -- an op or a kernel given a host pointer where paged.h says
/// [device] fails, naming the op or kernel and the argument. These plant exactly the bug a real GPU
/// found (ModelRunner passed a pinned host array as block_copy's pairs). They also run the kernels'
/// index guards, which report through the device error word at the next wait (the GPU path), by
/// turning the emulator's host-side validation off for one context.
/// </summary>
[TestClass]
public sealed partial class AddressSpaceTests
{
    private static readonly Lock EnvGate = new();

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);

    private static DeviceContext Simt()
    {
        if (!Backend.IsAvailable("simt"))
            Assert.Inconclusive("libpaged_simt.so is not built");
        return Backends.Reference("simt");
    }

    /// <summary>A simt context whose ops skip host-side index validation, like a GPU: the kernels guard.</summary>
    private static DeviceContext SimtWithKernelGuardsOnly()
    {
        if (!Backend.IsAvailable("simt"))
            Assert.Inconclusive("libpaged_simt.so is not built");
        lock (EnvGate)
        {
            SetEnv("PAGED_SIMT_HOST_VALIDATION", "0", 1);
            try
            {
                return Backend.Load("simt").CreateContext();
            }
            finally
            {
                UnsetEnv("PAGED_SIMT_HOST_VALIDATION");
            }
        }
    }

    private static (DeviceBuffer Cache, KvCacheDesc Desc) SmallCache(DeviceContext ctx)
    {
        var desc = new KvCacheDesc { NumBlocks = 4, NumLayers = 2, NumKvHeads = 1, BlockSize = 4, HeadSize = 8 };
        var cache = ctx.Upload<float>(TestData.Uniform(4 * 2 * 2 * 4 * 8, 3));
        desc.Data = cache.Address;
        return (cache, desc);
    }

    [TestMethod]
    public unsafe void BlockCopy_WithHostPairs_IsRejectedNamingOpAndArgument()
    {
        var ctx = Simt();
        var (cache, desc) = SmallCache(ctx);
        using var _ = cache;
        int[] pairs = [0, 1];
        fixed (int* p = pairs) // the planted bug: a pinned host array where paged.h says [device]
        {
            var args = new BlockCopyArgs { Cache = desc, Pairs = (nint)p, NumPairs = 1 };
            var e = Assert.ThrowsExactly<BackendException>(() => ctx.BlockCopy(args));
            Assert.AreEqual(Status.InvalidArgument, e.Status);
            StringAssert.Contains(e.Message, "block_copy: pairs");
            StringAssert.Contains(e.Message, "is not device memory");
        }

        using var devicePairs = ctx.Upload<int>([0, 1]);
        ctx.BlockCopy(new BlockCopyArgs { Cache = desc, Pairs = devicePairs.Address, NumPairs = 1 }); // still usable
    }

    [TestMethod]
    public unsafe void Kernel_GivenHostPointer_FailsTheLaunchNamingKernelAndArgument()
    {
        using var ctx = SimtWithKernelGuardsOnly();
        var (cache, desc) = SmallCache(ctx);
        using var _ = cache;
        int[] pairs = [0, 1];
        fixed (int* p = pairs)
        {
            var args = new BlockCopyArgs { Cache = desc, Pairs = (nint)p, NumPairs = 1 };
            var e = Assert.ThrowsExactly<BackendException>(() => ctx.BlockCopy(args));
            StringAssert.Contains(e.Message, "kernel block_copy: argument 1");
            StringAssert.Contains(e.Message, "is not device memory");
        }

        float[] hostTable = new float[4 * 8];
        using var ids = ctx.Upload<int>([1]);
        using var outBuf = ctx.Allocate<float>(8);
        fixed (float* t = hostTable)
        {
            var args = new EmbeddingArgs { Out = outBuf.Address, Table = (nint)t, TokenIds = ids.Address, NumTokens = 1, VocabSize = 4, Dim = 8 };
            var e = Assert.ThrowsExactly<BackendException>(() => ctx.Embedding(args));
            StringAssert.Contains(e.Message, "kernel embedding: argument 1");
        }
    }

    [TestMethod]
    public unsafe void Sample_WithHostParameterArray_IsRejected()
    {
        var ctx = Simt();
        using var logits = ctx.Upload<float>(new float[16]);
        using var outs = ctx.Allocate<int>(4);
        float[] temperature = [0f];
        fixed (float* t = temperature)
        {
            var args = new SampleArgs
            {
                OutTokens = outs.Address, OutStatus = outs.Address + 8, Logits = logits.Address, Temperature = (nint)t,
                NumRows = 1, VocabSize = 16, RowStride = 16,
            };
            var e = Assert.ThrowsExactly<BackendException>(() => ctx.Sample(args));
            StringAssert.Contains(e.Message, "sample: temperature");
            StringAssert.Contains(e.Message, "is not device memory");
        }
    }

    [TestMethod]
    public unsafe void Memcpy_SidesMustBeInTheAddressSpacesTheKindNames()
    {
        var ctx = Simt();
        using var dev = ctx.Allocate<float>(4);
        float[] host = new float[4];
        fixed (float* hp = host)
        {
            nint h = (nint)hp;
            // Device-to-device with a host source (what CUDA rejects as an invalid argument).
            var e = Assert.ThrowsExactly<BackendException>(() => ctx.CopyDeviceToDevice(dev.Address, h, 16));
            StringAssert.Contains(e.Message, "memcpy device-to-device: src");
            e = Assert.ThrowsExactly<BackendException>(() => ctx.Memset(h, 0, 16));
            StringAssert.Contains(e.Message, "memset: dst");
        }

        dev.CopyFrom<float>([1, 2, 3, 4]);
        CollectionAssert.AreEqual(new float[] { 1, 2, 3, 4 }, dev.ToArray<float>());
    }

    // The GPU path of index errors: the op returns, its kernel records the first bad id, and the next
    // wait reports it with the op's own message; the context stays usable and the word is cleared.
    [TestMethod]
    public void KernelGuards_ReportBadIdsAtTheNextWait()
    {
        using var ctx = SimtWithKernelGuardsOnly();
        using var table = ctx.Upload<float>(new float[4 * 8]);
        using var ids = ctx.Upload<int>([1, 4]);
        using var outBuf = ctx.Allocate<float>(2 * 8);
        var emb = new EmbeddingArgs { Out = outBuf.Address, Table = table.Address, TokenIds = ids.Address, NumTokens = 2, VocabSize = 4, Dim = 8 };
        ctx.Embedding(emb); // no host validation: the launch succeeds
        var e = Assert.ThrowsExactly<BackendException>(() => outBuf.ToArray<float>());
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "embedding: token_ids[1] = 4 is outside [0, 4)");
        StringAssert.Contains(e.Message, "found by the kernel");
        ctx.Synchronize(); // reported once, then cleared

        var (cache, desc) = SmallCache(ctx);
        using var _ = cache;
        var before = cache.ToArray<float>();
        using var badPairs = ctx.Upload<int>([0, 1, 2, 9]);
        ctx.BlockCopy(new BlockCopyArgs { Cache = desc, Pairs = badPairs.Address, NumPairs = 2 });
        e = Assert.ThrowsExactly<BackendException>(ctx.Synchronize);
        StringAssert.Contains(e.Message, "block_copy: pairs[1][1] = 9 is outside [0, 4)");
        var after = cache.ToArray<float>();
        int perBlock = 2 * 2 * 4 * 8;
        CollectionAssert.AreEqual(before.AsSpan(0, perBlock).ToArray(), after.AsSpan(perBlock, perBlock).ToArray(), "the good pair was applied");

        using var slots = ctx.Upload<long>([3, 99]);
        using var kv = ctx.Upload<float>(new float[2 * 8]);
        ctx.CacheWrite(new CacheWriteArgs { Cache = desc, Key = kv.Address, Value = kv.Address, SlotMapping = slots.Address, NumTokens = 2, Layer = 0, KeyStride = 8, ValueStride = 8 });
        e = Assert.ThrowsExactly<BackendException>(ctx.Synchronize);
        StringAssert.Contains(e.Message, "cache_write: slot_mapping[1] = 99 is outside [0, 16)");

        using var positions = ctx.Upload<int>([-3]);
        using var q = ctx.Allocate<float>(8);
        ctx.Rope(new RopeArgs { Q = q.Address, K = q.Address, Positions = positions.Address, NumTokens = 1, NumHeads = 1, NumKvHeads = 1, HeadSize = 8, RotaryDim = 8, QStride = 8, KStride = 8, Theta = 10000 });
        e = Assert.ThrowsExactly<BackendException>(ctx.Synchronize);
        StringAssert.Contains(e.Message, "rope: positions[0] = -3 must be >= 0");
    }

    [TestMethod]
    public void KernelGuards_CatchBadSamplingParameters()
    {
        using var ctx = SimtWithKernelGuardsOnly();
        using var lb = ctx.Upload<float>(new float[64]);
        using var batch = new SampleOpBatch(ctx);
        var e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 1 }, new SampleRow { Temperature = 1, TopP = 0 }]));
        StringAssert.Contains(e.Message, "top_p[1]");
        e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 1, LogitBias = new Dictionary<int, float> { [64] = 1 } }]));
        StringAssert.Contains(e.Message, "bias id 64");
        batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 0 }]);
        Assert.AreEqual(SampleRowStatus.Ok, batch.Status[0]);
    }

    [TestMethod]
    public void Counters_OneWaitPerReadBack_AndLaunchesCounted()
    {
        var ctx = Simt();
        using var table = ctx.Upload<float>(new float[4 * 8]);
        using var ids = ctx.Upload<int>([1, 2]);
        using var outBuf = ctx.Allocate<float>(2 * 8);
        var before = ctx.Counters;
        ctx.Embedding(new EmbeddingArgs { Out = outBuf.Address, Table = table.Address, TokenIds = ids.Address, NumTokens = 2, VocabSize = 4, Dim = 8 });
        _ = outBuf.ToArray<float>();
        var d = ctx.Counters.Since(before);
        Assert.AreEqual(1, d.Launches, "one embedding launch");
        Assert.AreEqual(1, d.HostSyncs, "the read-back is the only wait (validation reads are not waits)");
        Assert.AreEqual(1, d.DeviceToHostCopies);
    }
}
