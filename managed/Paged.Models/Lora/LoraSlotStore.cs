using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Lora;

/// <summary>
/// Device memory for up to <see cref="NumSlots"/> resident adapters of rank up to <see cref="MaxRank"/>: per layer and
/// target projection, lora_A as [slots, max_rank, K] and lora_B transposed as [slots, max_rank, N] in
/// <see cref="DType"/> (f32 or bf16), each slot's rank (the op reads only that many rows: a rank-8 adapter in a
/// rank-16 pool costs rank 8 per step), and one scale per (target, slot), 0 where the slot's adapter leaves the
/// projection alone (the op skips those). Which adapter sits in which slot is the engine's business (LRU, pins); this class only
/// writes a slot and runs the op.
/// </summary>
public sealed class LoraSlotStore : IDisposable
{
    private readonly DeviceContext _ctx;
    private readonly IReadOnlyList<LoraTarget> _targets;
    private readonly DeviceBuffer[,] _a;
    private readonly DeviceBuffer[,] _b;
    private readonly float[] _scales;
    private readonly DeviceBuffer _scalesOnDevice;
    private readonly int[] _ranks;
    private readonly DeviceBuffer _ranksOnDevice;
    private readonly DeviceBuffer _workspace;
    private readonly List<DeviceBuffer> _owned = [];

    public LoraSlotStore(DeviceContext ctx, ModelConfig config, int numSlots, int maxRank, int maxTokens, DType dtype = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(numSlots, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRank, 1);
        if (dtype is not (DType.F32 or DType.BF16))
            throw new ArgumentException($"LoRA slots hold f32 or bf16, not {dtype}", nameof(dtype));
        _ctx = ctx;
        DType = dtype;
        NumSlots = numSlots;
        MaxRank = maxRank;
        _targets = LoraTarget.For(config);
        _a = new DeviceBuffer[config.NumLayers, _targets.Count];
        _b = new DeviceBuffer[config.NumLayers, _targets.Count];
        _scales = new float[_targets.Count * numSlots];
        _ranks = new int[numSlots];
        try
        {
            for (int l = 0; l < config.NumLayers; l++)
            {
                for (int t = 0; t < _targets.Count; t++)
                {
                    _a[l, t] = Zeroed((long)numSlots * maxRank * _targets[t].K * ElementBytes);
                    _b[l, t] = Zeroed((long)numSlots * maxRank * _targets[t].N * ElementBytes);
                }
            }

            _scalesOnDevice = Zeroed(_scales.Length * sizeof(float));
            _ranksOnDevice = Zeroed(numSlots * sizeof(int));
            _workspace = Zeroed((long)maxTokens * maxRank * sizeof(float));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int NumSlots { get; }

    public int MaxRank { get; }

    /// <summary>Element type of lora_A and lora_B in the slots: F32 or BF16 (rounded to nearest even when written).</summary>
    public DType DType { get; }

    private int ElementBytes => DType == DType.F32 ? sizeof(float) : sizeof(ushort);

    /// <summary>Device bytes the store holds.</summary>
    public long Bytes => _owned.Sum(b => b.Bytes);

    /// <summary>Copies <paramref name="adapter"/> into <paramref name="slot"/> (synchronously: the host arrays are not kept).</summary>
    public void Write(int slot, LoraAdapter adapter)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, NumSlots);
        if (adapter.Rank > MaxRank)
            throw new ArgumentException($"adapter {adapter.Name} has rank {adapter.Rank}; the slots hold at most {MaxRank}");
        for (int t = 0; t < _targets.Count; t++)
        {
            var target = _targets[t];
            bool touched = adapter.A(0, t) is not null;
            _scales[(t * NumSlots) + slot] = touched ? adapter.Scale : 0f;
            if (!touched)
                continue;
            for (int l = 0; l < _a.GetLength(0); l++)
            {
                WriteRows(_a[l, t], slot, adapter.A(l, t)!, adapter.Rank, target.K);
                WriteRows(_b[l, t], slot, adapter.BTransposed(l, t)!, adapter.Rank, target.N);
            }
        }

        _ranks[slot] = adapter.Rank;
        _ranksOnDevice.CopyFrom<int>(_ranks);
        _scalesOnDevice.CopyFrom<float>(_scales);
    }

    /// <summary>Marks <paramref name="slot"/> empty: every projection's scale 0, so the op skips its tokens.</summary>
    public void Clear(int slot)
    {
        for (int t = 0; t < _targets.Count; t++)
            _scales[(t * NumSlots) + slot] = 0f;
        _scalesOnDevice.CopyFrom<float>(_scales);
    }

    /// <summary>
    /// Adds every adapter delta of <paramref name="linear"/> in layer <paramref name="layer"/>: out[t, columns of each
    /// target] += scale * B A x[t], for tokens whose slot (<paramref name="tokenSlots"/>, device int32) is not -1.
    /// </summary>
    public void Apply(LoraLinear linear, int layer, nint x, int ldx, nint output, int ldo, int tokens, nint tokenSlots)
    {
        for (int t = 0; t < _targets.Count; t++)
        {
            var target = _targets[t];
            if (target.Linear != linear)
                continue;
            _ctx.Lora(new LoraArgs
            {
                Out = output + (nint)(target.ColumnOffset * sizeof(float)), X = x, A = _a[layer, t].Address, B = _b[layer, t].Address,
                Scales = _scalesOnDevice.At<float>(t * NumSlots), TokenSlots = tokenSlots, Workspace = _workspace.Address,
                NumTokens = tokens, N = target.N, K = target.K, MaxRank = MaxRank, NumSlots = NumSlots, Ldx = ldx, Ldo = ldo,
                DType = DType.F32, WeightDType = DType, SlotRanks = _ranksOnDevice.Address,
            });
        }
    }

    /// <summary>The adapter's <paramref name="rank"/> rows into the slot (rows beyond it are never read: no padding written).</summary>
    private void WriteRows(DeviceBuffer buffer, int slot, float[] rows, int rank, int width)
    {
        long slab = (long)MaxRank * width, count = (long)rank * width;
        if (DType == DType.F32)
        {
            buffer.CopyFrom<float>(rows.AsSpan(0, (int)count), slot * slab);
            return;
        }

        var bits = new ushort[count];
        for (int i = 0; i < bits.Length; i++)
            bits[i] = Weights.Bf16.FromSingle(rows[i]);
        buffer.CopyFrom<ushort>(bits, slot * slab);
    }

    private DeviceBuffer Zeroed(long bytes)
    {
        var b = _ctx.Allocate(Math.Max(4, bytes));
        _owned.Add(b);
        _ctx.Memset(b.Address, 0, b.Bytes);
        return b;
    }

    public void Dispose()
    {
        foreach (var b in _owned)
            b.Dispose();
        _owned.Clear();
    }
}
