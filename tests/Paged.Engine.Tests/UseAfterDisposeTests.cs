using Paged.Runtime;

namespace Paged.Engine.Tests;

/// <summary>
/// Issue 11 item 4: after Dispose every public entry point of the engines, the context and its buffers
/// throws <see cref="ObjectDisposedException"/> -- never a native crash on a freed handle, never a silent
/// no-op, never a fresh allocation behind a disposed owner. Methods are found by reflection
/// (<see cref="DisposedCalls"/>), so new ones are covered; span-taking ones are called here by hand.
/// Dispose itself (and AsyncEngine's ShutdownAsync) may be called again and does nothing.
/// </summary>
[TestClass]
public sealed class UseAfterDisposeTests
{
    private static EngineOptions CpuOptions => new() { Device = "cpu", MaxNumSeqs = 2 };

    [TestMethod]
    public void LlmEngine_EveryMethodThrowsObjectDisposed()
    {
        var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, CpuOptions);
        engine.Generate([("Once", new SamplingParams { MaxTokens = 2 })]);
        engine.Dispose();
        engine.Dispose(); // twice is harmless

        var skipped = DisposedCalls.AssertEveryMethodThrows(engine, nameof(LlmEngine.Dispose));
        Assert.IsEmpty(skipped);
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ = engine.BackendCounters, "BackendCounters reads the freed context");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AsyncEngine_EveryMethodThrowsObjectDisposed()
    {
        var engine = AsyncEngine.Create(SharedFiles.Stories260KBin, null, CpuOptions);
        await engine.DisposeAsync();
        await engine.ShutdownAsync(); // shutting down again is harmless
        engine.Dispose();

        var skipped = DisposedCalls.AssertEveryMethodThrows(engine, nameof(AsyncEngine.Dispose), nameof(AsyncEngine.DisposeAsync), nameof(AsyncEngine.ShutdownAsync));
        Assert.IsEmpty(skipped);
        Assert.IsFalse(engine.IsAlive);
    }

    [TestMethod]
    public void DeviceContext_EveryMethodAndPropertyThrowsObjectDisposed()
    {
        var context = Backend.Load("cpu").CreateContext(numThreads: 1);
        context.Dispose();

        var skipped = DisposedCalls.AssertEveryMethodThrows(context);
        CollectionAssert.AreEquivalent(new[] { nameof(DeviceContext.Upload), nameof(DeviceContext.CopyToHost) }, skipped.ToArray());
        Assert.ThrowsExactly<ObjectDisposedException>(() => context.Upload<float>([1f]));
        Assert.ThrowsExactly<ObjectDisposedException>(() => context.CopyToHost<float>(new float[1], 0));
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ = context.DeviceName);
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ = context.Counters);
    }

    [TestMethod]
    public void Buffers_EveryMethodThrowsObjectDisposed()
    {
        using var context = Backend.Load("cpu").CreateContext(numThreads: 1);
        var device = context.Allocate<float>(4);
        var host = context.AllocateHost(64);
        var staging = new StagingBuffer(context);
        staging.Stage<int>([1, 2]);
        staging.Flush();
        var sampling = new SampleOpBatch(context);
        foreach (var d in new IDisposable[] { device, host, staging, sampling })
        {
            d.Dispose();
            d.Dispose();
        }

        CollectionAssert.AreEquivalent(new[] { nameof(DeviceBuffer.CopyFrom), nameof(DeviceBuffer.CopyTo) }, DisposedCalls.AssertEveryMethodThrows(device).ToArray());
        Assert.ThrowsExactly<ObjectDisposedException>(() => device.CopyFrom<float>([1f]));
        Assert.ThrowsExactly<ObjectDisposedException>(() => device.CopyFrom(ReadOnlySpan<float>.Empty), "an empty copy still checks");
        Assert.ThrowsExactly<ObjectDisposedException>(() => device.CopyTo(new float[1]));
        Assert.ThrowsExactly<ObjectDisposedException>(() => device.CopyTo(Span<float>.Empty));
        Assert.ThrowsExactly<ObjectDisposedException>(() => _ = device.Address);

        CollectionAssert.AreEquivalent(new[] { nameof(HostBuffer.AsSpan) }, DisposedCalls.AssertEveryMethodThrows(host).ToArray());
        Assert.ThrowsExactly<ObjectDisposedException>(() => host.AsSpan<float>(0, 1));

        CollectionAssert.AreEquivalent(new[] { nameof(StagingBuffer.Stage) }, DisposedCalls.AssertEveryMethodThrows(staging, nameof(StagingBuffer.Dispose)).ToArray());
        Assert.ThrowsExactly<ObjectDisposedException>(() => staging.Stage<int>([3]), "staging after disposal must not allocate a new host buffer");

        // TopIds/TopLogprobs read the last run's host copy (spans): reflection skips them.
        CollectionAssert.AreEquivalent(new[] { nameof(SampleOpBatch.TopIds), nameof(SampleOpBatch.TopLogprobs) }, DisposedCalls.AssertEveryMethodThrows(sampling, nameof(SampleOpBatch.Dispose)).ToArray());
    }
}
