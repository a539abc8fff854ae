using Paged.Runtime;

namespace Paged.Engine.Kv;

/// <summary>
/// The host pool for swapped-out KV blocks: <see cref="NumSlots"/> block-sized slots in one buffer
/// from the backend's alloc_host (page-locked on CUDA), allocated at the first swap.
/// </summary>
internal sealed class HostKvStore : IDisposable
{
    private readonly DeviceContext _context;
    private readonly long _bytesPerBlock;
    private HostBuffer? _pool;

    public HostKvStore(DeviceContext context, int numSlots, long bytesPerBlock)
    {
        _context = context;
        NumSlots = numSlots;
        _bytesPerBlock = bytesPerBlock;
    }

    public int NumSlots { get; }

    public HostBuffer Pool => _pool ??= _context.AllocateHost(Math.Max(1, NumSlots) * _bytesPerBlock);

    public void Dispose() => _pool?.Dispose();
}
