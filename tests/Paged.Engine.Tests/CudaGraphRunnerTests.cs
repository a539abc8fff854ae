using Paged.Models;
using Paged.Runtime;

namespace Paged.Engine.Tests;

/// <summary>
/// <see cref="CudaGraphRunner"/> on its own: what padding writes, and that a forward pass that cannot be captured
/// (here: it allocates) runs eagerly and turns graphs off, with the backend's reason, instead of failing steps.
/// </summary>
[TestClass]
public sealed class CudaGraphRunnerTests
{
    // A model whose forward pass allocates device memory every step: allowed eagerly, refused while capturing.
    private sealed class AllocatingModel(DeviceContext context) : ICausalLM
    {
        public int Forwards { get; private set; }

        public ModelConfig Config => throw new NotSupportedException();

        public DeviceContext Context => context;

        public int MaxTokens => 8;

        public int MaxSeqs => 8;

        public int MaxBlocksPerSeq => 2;

        public nint LogitsAddress => 0;

        public void Stage(StepBatch batch, StagingBuffer upload)
        {
        }

        public void Forward(StepBatch batch, KvCache cache)
        {
            Forwards++;
            context.Allocate(64).Dispose();
        }

        public void Dispose()
        {
        }
    }

    private static StepBatch Decode(int seqs)
    {
        var batch = new StepBatch(8, 8, 2);
        for (int s = 0; s < seqs; s++)
            batch.AddLogitRow(batch.AddSequence([10 + s], 16 + s, [s + 1, s + 2], 16, adapterSlot: s == 0 ? 0 : -1));
        return batch;
    }

    [TestMethod]
    public void Padding_AddsDummySequencesUpToTheBucket()
    {
        DeviceEndToEndTests.RequireDevice("simt");
        using var ctx = Backend.Load("simt").CreateContext();
        using var runner = new CudaGraphRunner(new AllocatingModel(ctx), maxContext: 32);
        var batch = Decode(3);
        Assert.IsTrue(runner.TryPad(batch, otherRowsWanted: false));
        Assert.AreEqual(4, batch.NumSeqs, "3 sequences run in the bucket of 4");
        Assert.AreEqual(4, batch.NumTokens);
        Assert.AreEqual(4, batch.NumLogitRows);
        Assert.AreEqual(32, batch.MaxSeqLen, "the attention launch shape: the engine's context");
        Assert.AreEqual(-1L, batch.SlotMapping[3], "the dummy's cache write is skipped");
        Assert.AreEqual(1, batch.SeqLens[3]);
        Assert.AreEqual(0, batch.Positions[3]);
        Assert.AreEqual(4, batch.QueryStart[4]);
        Assert.AreEqual(3, batch.LogitRows[3]);
        Assert.AreEqual(-1, batch.AdapterSlots[3]);
        CollectionAssert.AreEqual(new[] { 0, 0 }, batch.BlockTables.AsSpan(3 * 2, 2).ToArray());
        Assert.AreEqual((4L * 16) + 2, batch.SlotMapping[2], "real rows are untouched (position 18: block table [3, 4], block 4 slot 2)");

        var prefill = new StepBatch(8, 8, 2);
        prefill.AddLogitRow(prefill.AddSequence([1, 2, 3], 0, [1], 16));
        Assert.IsFalse(runner.TryPad(prefill, otherRowsWanted: false), "a prefill step runs eagerly");
        Assert.IsFalse(runner.TryPad(Decode(2), otherRowsWanted: true), "prompt logprobs want other rows: eager");
    }

    [TestMethod]
    public void AForwardPassThatCannotBeCaptured_RunsEagerly_AndTurnsGraphsOff()
    {
        DeviceEndToEndTests.RequireDevice("simt");
        using var ctx = Backend.Load("simt").CreateContext();
        var model = new AllocatingModel(ctx);
        using var runner = new CudaGraphRunner(model, maxContext: 32);
        var batch = Decode(1);
        Assert.IsTrue(runner.TryPad(batch, otherRowsWanted: false));
        runner.Forward(batch, null!, inputs: 4096); // first use of the bucket: eager
        Assert.AreEqual(1, model.Forwards);
        runner.Forward(batch, null!, inputs: 4096); // capture: the allocation is refused, the step runs eagerly
        Assert.AreEqual(3, model.Forwards, "the refused capture, then the eager run of the step");
        Assert.AreEqual(0, runner.Captured);
        StringAssert.Contains(runner.DisabledReason, "alloc during graph capture");
        Assert.IsFalse(runner.TryPad(Decode(1), otherRowsWanted: false), "graphs are off from now on");
        ctx.Synchronize(); // the context is not left capturing
    }
}
