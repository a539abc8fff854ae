using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// Graph capture and replay (paged.h, pg_graph): on simt the launch helper, the CPU GEMM and device-side copies are
/// recorded while capturing and run at each replay, reading what the captured addresses hold then; a replay counts
/// as one launch; a call that cannot be captured (allocation, wait, host copy) fails naming itself and voids the
/// capture; the cpu backend has no graphs (unsupported: callers run eagerly).
/// </summary>
[TestClass]
public sealed class GraphCaptureTests
{
    private const int Rows = 3, Dim = 40, Out = 24;

    private static DeviceContext Simt()
    {
        if (!Backend.IsAvailable("simt"))
            Assert.Inconclusive("libpaged_simt.so is not built");
        return Backend.Load("simt").CreateContext();
    }

    // rmsnorm (a kernel launch), a matmul with a bias (a bias kernel + the CPU GEMM), a device-to-device copy and a memset.
    private sealed class Step : IDisposable
    {
        public Step(DeviceContext ctx)
        {
            X = ctx.Upload<float>(TestData.Uniform(Rows * Dim, 1));
            Weight = ctx.Upload<float>(TestData.Uniform(Dim, 2));
            W = ctx.Upload<float>(TestData.Uniform(Out * Dim, 3, 0.2f));
            Bias = ctx.Upload<float>(TestData.Uniform(Out, 4));
            Normed = ctx.Allocate<float>(Rows * Dim);
            Y = ctx.Allocate<float>(Rows * Out);
            Copy = ctx.Allocate<float>(Rows * Out);
            Flag = ctx.Allocate<int>(4);
        }

        public DeviceBuffer X { get; }
        public DeviceBuffer Weight { get; }
        public DeviceBuffer W { get; }
        public DeviceBuffer Bias { get; }
        public DeviceBuffer Normed { get; }
        public DeviceBuffer Y { get; }
        public DeviceBuffer Copy { get; }
        public DeviceBuffer Flag { get; }

        public void Enqueue(DeviceContext ctx)
        {
            ctx.RmsNorm(new RmsNormArgs { Out = Normed.Address, X = X.Address, Weight = Weight.Address, NumTokens = Rows, Dim = Dim, Eps = 1e-5f });
            ctx.Matmul(new MatmulArgs
            {
                Out = Y.Address, X = Normed.Address, W = W.Address, M = Rows, N = Out, K = Dim, Ldx = Dim, Ldo = Out, Bias = Bias.Address,
            });
            ctx.CopyDeviceToDevice(Copy.Address, Y.Address, Rows * Out * sizeof(float));
            ctx.Memset(Flag.Address, 7, 4 * sizeof(int));
        }

        public void Dispose()
        {
            foreach (var b in new[] { X, Weight, W, Bias, Normed, Y, Copy, Flag })
                b.Dispose();
        }
    }

    [TestMethod]
    public void Replay_RunsTheCapturedOpsOnTheCurrentInputs_AsOneLaunch()
    {
        using var ctx = Simt();
        using var step = new Step(ctx);
        step.Enqueue(ctx); // eager, for the launch count of one step
        var afterEager = ctx.Counters;
        step.Copy.CopyFrom<float>(new float[Rows * Out]);
        step.Flag.CopyFrom<int>(new int[4]);

        Assert.IsTrue(ctx.TryBeginCapture());
        var beforeCapture = ctx.Counters;
        step.Enqueue(ctx);
        using var graph = ctx.EndCapture();
        var captured = ctx.Counters.Since(beforeCapture);
        Assert.AreEqual(0L, captured.Launches, "captured ops are recorded, not launched");
        CollectionAssert.AreEqual(new float[Rows * Out], step.Copy.ToArray<float>(), "nothing ran during the capture");
        CollectionAssert.AreEqual(new int[4], step.Flag.ToArray<int>());

        // New inputs at the same addresses: the replay reads them, as a CUDA graph does.
        step.X.CopyFrom<float>(TestData.Uniform(Rows * Dim, 11));
        var before = ctx.Counters;
        graph.Launch();
        var replay = ctx.Counters.Since(before);
        var fromGraph = step.Copy.ToArray<float>();
        Assert.AreEqual(1L, replay.Launches, "a replay counts as one launch");
        Assert.AreEqual(1L, replay.GraphReplays);
        Assert.IsGreaterThan(1L, afterEager.Launches, "the eager step took several launches");
        CollectionAssert.AreEqual(Enumerable.Repeat(0x07070707, 4).ToArray(), step.Flag.ToArray<int>(), "the memset was replayed");

        step.Copy.CopyFrom<float>(new float[Rows * Out]);
        step.Enqueue(ctx); // eager on the same inputs: bit-identical
        CollectionAssert.AreEqual(step.Copy.ToArray<float>(), fromGraph, "replay equals the eager ops bit for bit");
        Assert.IsFalse(fromGraph.All(v => v == 0), "the step computed something");
    }

    [TestMethod]
    [DataRow("alloc")]
    [DataRow("memcpy device-to-host")]
    [DataRow("memcpy host-to-device")]
    [DataRow("synchronize")]
    public void ACallThatCannotBeCaptured_FailsNamingItself_AndVoidsTheCapture(string call)
    {
        using var ctx = Simt();
        using var step = new Step(ctx);
        Assert.IsTrue(ctx.TryBeginCapture());
        step.Enqueue(ctx);
        var e = Assert.ThrowsExactly<BackendException>(() =>
        {
            switch (call)
            {
                case "alloc": ctx.Allocate(64).Dispose(); break;
                case "memcpy device-to-host": step.Y.ToArray<float>(); break;
                case "memcpy host-to-device": step.X.CopyFrom<float>(new float[Rows * Dim]); break;
                default: ctx.Synchronize(); break;
            }
        });
        StringAssert.Contains(e.Message, $"{call} during graph capture");
        var end = Assert.ThrowsExactly<BackendException>(() => ctx.EndCapture());
        StringAssert.Contains(end.Message, "end_capture: no graph");
        StringAssert.Contains(end.Message, $"{call} during graph capture");

        // The context is usable again, eagerly and for a new capture.
        step.Enqueue(ctx);
        Assert.IsTrue(ctx.TryBeginCapture());
        step.Enqueue(ctx);
        using var graph = ctx.EndCapture();
        graph.Launch();
        ctx.Synchronize();
    }

    [TestMethod]
    public void Replay_OfAGraphWhoseBufferWasFreed_FailsNamingTheKernel()
    {
        using var ctx = Simt();
        using var step = new Step(ctx);
        Assert.IsTrue(ctx.TryBeginCapture());
        step.Enqueue(ctx);
        using var graph = ctx.EndCapture();
        step.Weight.Dispose(); // a GPU would read freed memory; the emulator says so
        var e = Assert.ThrowsExactly<BackendException>(graph.Launch);
        StringAssert.Contains(e.Message, "graph_launch: step 1 of");
        StringAssert.Contains(e.Message, "rmsnorm");
        StringAssert.Contains(e.Message, "not device memory");
    }

    [TestMethod]
    public void Capture_IsNotNested_AndEndNeedsABegin()
    {
        using var ctx = Simt();
        Assert.Contains("not capturing", Assert.ThrowsExactly<BackendException>(() => ctx.EndCapture()).Message);
        Assert.IsTrue(ctx.TryBeginCapture());
        Assert.Contains("already capturing", Assert.ThrowsExactly<BackendException>(() => ctx.TryBeginCapture()).Message);
        ctx.EndCapture().Dispose();
    }

    [TestMethod]
    public unsafe void CpuBackend_HasNoGraphs_SoCallersRunEagerly()
    {
        using var ctx = Backend.Load("cpu").CreateContext();
        Assert.IsFalse(ctx.TryBeginCapture(), "begin_capture answers unsupported");
        var api = ctx.Backend.Api;
        nint graph = 1;
        nint handle = ctx.DangerousGetHandle();
        Assert.AreEqual(Status.Unsupported, api->EndCapture(handle, &graph));
        Assert.AreEqual((nint)0, graph, "no graph is handed out");
        Assert.AreEqual(Status.Unsupported, api->GraphLaunch(handle, 0));
        Assert.AreEqual(Status.Unsupported, api->GraphDestroy(handle, 0));
        StringAssert.StartsWith(ctx.Backend.LastError(), "graph_destroy: the cpu backend");
    }
}
