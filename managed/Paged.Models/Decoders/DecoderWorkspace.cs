using Paged.Runtime;

namespace Paged.Models.Decoders;

/// <summary>A device array of this step's staged index arrays (the address the ops take).</summary>
internal readonly record struct StagedArray(nint Address);

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

    /// <summary>Per-token LoRA slots; address 0 when no token of the step has an adapter.</summary>
    public StagedArray AdapterSlots { get; private set; }

    // Offsets of the arrays in the staging buffer that holds them this step (null: not staged).
    private StagingBuffer? _stagedIn;
    private StepBatch? _stagedBatch;
    private long _tokensAt, _positionsAt, _slotsAt, _lensAt, _startsAt, _tablesAt, _rowsAt, _adaptersAt;

    /// <summary>
    /// Stages the step's index arrays into <paramref name="upload"/>, the caller's one packed upload of
    /// the step (with its copy pairs and sampling parameters); the caller flushes it before the forward pass.
    /// </summary>
    public void Stage(StepBatch b, StagingBuffer upload)
    {
        _tokensAt = upload.Stage<int>(b.TokenIds.AsSpan(0, b.NumTokens));
        _positionsAt = upload.Stage<int>(b.Positions.AsSpan(0, b.NumTokens));
        _slotsAt = upload.Stage<long>(b.SlotMapping.AsSpan(0, b.NumTokens));
        _lensAt = upload.Stage<int>(b.SeqLens.AsSpan(0, b.NumSeqs));
        _startsAt = upload.Stage<int>(b.QueryStart.AsSpan(0, b.NumSeqs + 1));
        _tablesAt = upload.Stage<int>(b.BlockTables.AsSpan(0, b.NumSeqs * b.MaxBlocksPerSeq));
        _rowsAt = upload.Stage<int>(b.LogitRows.AsSpan(0, b.NumLogitRows));
        _adaptersAt = b.HasAdapters ? upload.Stage<int>(b.AdapterSlots.AsSpan(0, b.NumTokens)) : -1;
        _stagedIn = upload;
        _stagedBatch = b;
    }

    /// <summary>Makes the step's index arrays available on the device: those staged by the caller for
    /// <paramref name="b"/>, else through the workspace's own staging buffer (one packed copy, no wait).</summary>
    public void Upload(StepBatch b)
    {
        if (!ReferenceEquals(_stagedBatch, b) || _stagedIn is null)
        {
            _indices.Clear();
            Stage(b, _indices);
            _indices.Flush();
        }

        var s = _stagedIn!;
        TokenIds = new(s.Address(_tokensAt));
        Positions = new(s.Address(_positionsAt));
        SlotMapping = new(s.Address(_slotsAt));
        SeqLens = new(s.Address(_lensAt));
        QueryStart = new(s.Address(_startsAt));
        BlockTables = new(s.Address(_tablesAt));
        LogitRows = new(s.Address(_rowsAt));
        AdapterSlots = new(_adaptersAt >= 0 ? s.Address(_adaptersAt) : 0);
        _stagedBatch = null; // staged data serves one forward pass
        _stagedIn = null;
    }

    /// <summary>Uploads flat token indices for a later projection (after the step's wait: the staging buffer is reused).</summary>
    public nint UploadRows(ReadOnlySpan<int> rows)
    {
        _indices.Clear();
        long at = _indices.Stage<int>(rows);
        _indices.Flush();
        return _indices.Address(at);
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
