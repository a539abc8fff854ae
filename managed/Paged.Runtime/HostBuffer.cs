namespace Paged.Runtime;

/// <summary>
/// Host memory allocated by a backend for KV-block swaps (page-locked on CUDA, so copies run at full
/// speed). Holds a reference on its context, like <see cref="DeviceBuffer"/>. The memory is readable
/// from the host as a span.
/// </summary>
public sealed unsafe class HostBuffer : ContextMemory
{
    internal HostBuffer(DeviceContext context, nint ptr, long bytes)
        : base(context, ptr, bytes)
    {
    }

    /// <summary>A view of <paramref name="count"/> elements of T starting at element <paramref name="offset"/>.</summary>
    public Span<T> AsSpan<T>(long offset, int count) where T : unmanaged
    {
        if (offset < 0 || count < 0 || (offset + count) * sizeof(T) > Bytes)
            throw new ArgumentOutOfRangeException(nameof(count), $"[{offset}, {offset + count}) is outside the {Bytes}-byte host buffer");
        return new Span<T>((T*)Address + offset, count);
    }

    private protected override void Free(nint ptr) => Context.FreeHost(ptr);
}
