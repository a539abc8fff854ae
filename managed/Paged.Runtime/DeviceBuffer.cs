namespace Paged.Runtime;

/// <summary>
/// Device memory owned by a <see cref="DeviceContext"/>. Holds a reference on the context so the
/// context cannot be destroyed while a buffer still lives.
/// </summary>
public sealed unsafe class DeviceBuffer : ContextMemory
{
    /// <summary>For host memory used in place (<see cref="DeviceContext.WrapHostMemory"/>): what keeps it alive.</summary>
    private readonly IDisposable? _hostOwner;

    internal DeviceBuffer(DeviceContext context, nint ptr, long bytes, IDisposable? hostOwner = null)
        : base(context, ptr, bytes)
    {
        _hostOwner = hostOwner;
    }

    /// <summary>True when this buffer is host memory the backend reads in place (nothing was allocated).</summary>
    public bool IsWrappedHostMemory => _hostOwner is not null;

    /// <summary>The device address of element <paramref name="index"/> of type T.</summary>
    public nint At<T>(long index) where T : unmanaged => Address + (nint)(index * sizeof(T));

    private protected override void Free(nint ptr)
    {
        if (_hostOwner is not null)
            _hostOwner.Dispose();
        else
            Context.Free(ptr);
    }

    /// <summary>Copies host data to the start of this buffer (or at element offset).</summary>
    public void CopyFrom<T>(ReadOnlySpan<T> source, long elementOffset = 0) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(IsClosed, this); // also for an empty copy
        long bytes = (long)source.Length * sizeof(T);
        CheckRange(elementOffset * sizeof(T), bytes);
        if (bytes == 0)
            return;
        fixed (T* src = source)
            Context.CopyToDevice(Address + (nint)(elementOffset * sizeof(T)), src, bytes);
    }

    /// <summary>Copies from this buffer (at element offset) into host memory.</summary>
    public void CopyTo<T>(Span<T> destination, long elementOffset = 0) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(IsClosed, this); // also for an empty copy
        long bytes = (long)destination.Length * sizeof(T);
        CheckRange(elementOffset * sizeof(T), bytes);
        if (bytes == 0)
            return;
        fixed (T* dst = destination)
            Context.CopyToHost(dst, Address + (nint)(elementOffset * sizeof(T)), bytes);
    }

    /// <summary>Reads the whole buffer as an array of T.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var result = new T[Bytes / sizeof(T)];
        CopyTo<T>(result);
        return result;
    }

    private void CheckRange(long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > Bytes)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"range [{offset}, {offset + bytes}) is outside the {Bytes}-byte buffer");
    }
}
