using Paged.Runtime;

namespace Paged.Models.Decoders;

/// <summary>Device scratch buffers of the forward pass and the step's index arrays, allocated once.</summary>
internal sealed class DecoderWorkspace : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    public DecoderWorkspace(DeviceContext ctx, ModelConfig c, int maxTokens, int maxSeqs, int maxBlocksPerSeq)
    {
        try
        {
            Residual = Alloc<float>(ctx, (long)maxTokens * c.Dim);
            Normed = Alloc<float>(ctx, (long)maxTokens * c.Dim);
            Qkv = Alloc<float>(ctx, (long)maxTokens * (c.QDim + (2 * c.KvDim)));
            AttnOut = Alloc<float>(ctx, (long)maxTokens * c.QDim);
            GateUp = Alloc<float>(ctx, (long)maxTokens * 2 * c.HiddenDim);
            Act = Alloc<float>(ctx, (long)maxTokens * c.HiddenDim);
            LastHidden = Alloc<float>(ctx, (long)maxSeqs * c.Dim);
            Logits = Alloc<float>(ctx, (long)maxSeqs * c.VocabSize);
            TokenIds = Alloc<int>(ctx, maxTokens);
            Positions = Alloc<int>(ctx, maxTokens);
            SlotMapping = Alloc<long>(ctx, maxTokens);
            SeqLens = Alloc<int>(ctx, maxSeqs);
            QueryStart = Alloc<int>(ctx, maxSeqs + 1);
            BlockTables = Alloc<int>(ctx, (long)maxSeqs * maxBlocksPerSeq);
            LogitRows = Alloc<int>(ctx, maxSeqs);
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
    public DeviceBuffer TokenIds { get; } = null!;
    public DeviceBuffer Positions { get; } = null!;
    public DeviceBuffer SlotMapping { get; } = null!;
    public DeviceBuffer SeqLens { get; } = null!;
    public DeviceBuffer QueryStart { get; } = null!;
    public DeviceBuffer BlockTables { get; } = null!;
    public DeviceBuffer LogitRows { get; } = null!;

    /// <summary>Copies the step's index arrays to the device.</summary>
    public void Upload(StepBatch b)
    {
        TokenIds.CopyFrom<int>(b.TokenIds.AsSpan(0, b.NumTokens));
        Positions.CopyFrom<int>(b.Positions.AsSpan(0, b.NumTokens));
        SlotMapping.CopyFrom<long>(b.SlotMapping.AsSpan(0, b.NumTokens));
        SeqLens.CopyFrom<int>(b.SeqLens.AsSpan(0, b.NumSeqs));
        QueryStart.CopyFrom<int>(b.QueryStart.AsSpan(0, b.NumSeqs + 1));
        BlockTables.CopyFrom<int>(b.BlockTables.AsSpan(0, b.NumSeqs * b.MaxBlocksPerSeq));
        LogitRows.CopyFrom<int>(b.LogitRows.AsSpan(0, b.NumLogitRows));
    }

    private DeviceBuffer Alloc<T>(DeviceContext ctx, long count) where T : unmanaged
    {
        var buffer = ctx.Allocate<T>(Math.Max(1, count));
        _owned.Add(buffer);
        return buffer;
    }

    public void Dispose()
    {
        foreach (var b in _owned)
            b.Dispose();
        _owned.Clear();
    }
}
