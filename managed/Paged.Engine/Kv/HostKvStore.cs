namespace Paged.Engine.Kv;

/// <summary>Host memory for swapped-out KV blocks: one float array per slot, allocated on first use.</summary>
internal sealed class HostKvStore
{
    private readonly float[]?[] _slots;
    private readonly int _elementsPerBlock;

    public HostKvStore(int numSlots, long elementsPerBlock)
    {
        _slots = new float[]?[numSlots];
        _elementsPerBlock = checked((int)elementsPerBlock);
    }

    public Span<float> Slot(int slot) => _slots[slot] ??= new float[_elementsPerBlock];
}
