using Paged.Engine.Scheduling;
using Paged.Models.Lora;

namespace Paged.Engine.Lora;

/// <summary>
/// Which adapter sits in which device slot (<see cref="LoraSlotStore"/>): a running sequence pins its adapter's
/// slot, and a pinned slot is never evicted; an adapter not yet resident takes a free slot, else the least recently
/// used unpinned one (its adapter is evicted, to be copied back when next needed). The scheduler asks
/// <see cref="CanRun"/> before it admits a sequence, so at most NumSlots adapters run at once. Engine thread only.
/// </summary>
public sealed class LoraResidency(LoraSlotStore store) : IAdapterGate
{
    private readonly LoraAdapter?[] _resident = new LoraAdapter?[store.NumSlots];
    private readonly int[] _pins = new int[store.NumSlots];
    private readonly long[] _lastUse = new long[store.NumSlots];
    private long _clock;

    /// <summary>Element type of the slots (<see cref="LoraSlotStore.DType"/>).</summary>
    public Paged.Runtime.Interop.DType SlotDType => store.DType;

    /// <summary>Adapters copied into a slot so far (loads and reloads after eviction).</summary>
    public long SlotWrites { get; private set; }

    public long Evictions { get; private set; }

    /// <summary>The slot holding <paramref name="adapter"/>, or -1 (none, or the base model).</summary>
    public int SlotOf(LoraAdapter? adapter)
    {
        if (adapter is null)
            return -1;
        for (int s = 0; s < _resident.Length; s++)
        {
            if (ReferenceEquals(_resident[s], adapter))
                return s;
        }

        return -1;
    }

    /// <summary>The adapter in <paramref name="slot"/> and its pin count (tests, metrics).</summary>
    public (LoraAdapter? Adapter, int Pins) Slot(int slot) => (_resident[slot], _pins[slot]);

    public bool CanRun(Request request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Adapter is null || SlotOf(request.Adapter) >= 0 || Victim() >= 0;
    }

    public void Pin(Request request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Adapter is not { } adapter)
            return;
        int s = SlotOf(adapter);
        if (s < 0)
        {
            s = Victim();
            if (s < 0)
                throw new InvalidOperationException($"no LoRA slot is free for adapter '{adapter.Name}' (the scheduler checks CanRun first)");
            if (_resident[s] is not null)
                Evictions++;
            store.Write(s, adapter);
            _resident[s] = adapter;
            SlotWrites++;
        }

        _pins[s]++;
        _lastUse[s] = ++_clock;
    }

    public void Unpin(Request request)
    {
        ArgumentNullException.ThrowIfNull(request);
        int s = SlotOf(request.Adapter);
        if (s < 0)
            return;
        _pins[s]--;
        _lastUse[s] = ++_clock;
    }

    /// <summary>An empty slot, else the least recently used unpinned one; -1 when every slot is pinned.</summary>
    private int Victim()
    {
        int best = -1;
        for (int s = 0; s < _resident.Length; s++)
        {
            if (_resident[s] is null)
                return s;
            if (_pins[s] == 0 && (best < 0 || _lastUse[s] < _lastUse[best]))
                best = s;
        }

        return best;
    }
}
