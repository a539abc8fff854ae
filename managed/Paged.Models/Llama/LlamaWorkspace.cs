using Paged.Runtime;

namespace Paged.Models.Llama;

/// <summary>A device array of this step's staged index arrays (the address the ops take).</summary>
internal readonly record struct StagedArray(nint Address);

/// <summary>Device scratch buffers of the forward pass and the step's index arrays, allocated once.</summary>
internal sealed class LlamaWorkspace : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    public LlamaWorkspace(DeviceContext ctx, ModelConfig c, int maxTokens, int maxSeqs, int maxBlocksPerSeq)
    {
        try
        {
            Residual = Alloc<float>(ctx, (long)maxTokens * c.Dim);
            Normed = Alloc<float>(ctx, (long)maxTokens * c.Dim);
            Qkv = Alloc<float>(ctx, (long)maxTokens * (c.Dim + (2 * c.KvDim)));
            AttnOut = Alloc<float>(ctx, (long)maxTokens * c.Dim);
            GateUp = Alloc<float>(ctx, (long)maxTokens * 2 * c.HiddenDim);
            Act = Alloc<float>(ctx, (long)maxTokens * c.HiddenDim);
            LastHidden = Alloc<float>(ctx, (long)maxSeqs * c.Dim);
            Logits = Alloc<float>(ctx, (long)maxSeqs * c.VocabSize);
            _indices = new StagingBuffer(ctx);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DeviceBuffer Residual { get; } = null!;
    public DeviceBuffer Normed { get; } = null!;
    public DeviceBuffer Qkv { get; } = null!;
    public DeviceBuffer AttnOut { get; } = null!;
    public DeviceBuffer GateUp { get; } = null!;
    public DeviceBuffer Act { get; } = null!;
    public DeviceBuffer LastHidden { get; } = null!;
    public DeviceBuffer Logits { get; } = null!;
    // The step's index arrays: device memory (paged.h), packed into one page-locked staging buffer
    // and moved in one asynchronous host-to-device copy per step.
    private readonly StagingBuffer _indices = null!;

    public StagedArray TokenIds { get; private set; }
    public StagedArray Positions { get; private set; }
    public StagedArray SlotMapping { get; private set; }
    public StagedArray SeqLens { get; private set; }
    public StagedArray QueryStart { get; private set; }
    public StagedArray BlockTables { get; private set; }
    public StagedArray LogitRows { get; private set; }

    /// <summary>Copies the step's index arrays to the device (one packed copy, no wait).</summary>
    public void Upload(StepBatch b)
    {
        var s = _indices;
        s.Clear();
        long tokens = s.Stage<int>(b.TokenIds.AsSpan(0, b.NumTokens));
        long positions = s.Stage<int>(b.Positions.AsSpan(0, b.NumTokens));
        long slots = s.Stage<long>(b.SlotMapping.AsSpan(0, b.NumTokens));
        long lens = s.Stage<int>(b.SeqLens.AsSpan(0, b.NumSeqs));
        long starts = s.Stage<int>(b.QueryStart.AsSpan(0, b.NumSeqs + 1));
        long tables = s.Stage<int>(b.BlockTables.AsSpan(0, b.NumSeqs * b.MaxBlocksPerSeq));
        long rows = s.Stage<int>(b.LogitRows.AsSpan(0, b.NumLogitRows));
        s.Flush();
        TokenIds = new(s.Address(tokens));
        Positions = new(s.Address(positions));
        SlotMapping = new(s.Address(slots));
        SeqLens = new(s.Address(lens));
        QueryStart = new(s.Address(starts));
        BlockTables = new(s.Address(tables));
        LogitRows = new(s.Address(rows));
    }

    private DeviceBuffer Alloc<T>(DeviceContext ctx, long count) where T : unmanaged
    {
        var buffer = ctx.Allocate<T>(Math.Max(1, count));
        _owned.Add(buffer);
        return buffer;
    }

    public void Dispose()
    {
        _indices?.Dispose();
        foreach (var b in _owned)
            b.Dispose();
        _owned.Clear();
    }
}
