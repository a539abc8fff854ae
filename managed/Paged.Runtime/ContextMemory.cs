using System.Runtime.InteropServices;

namespace Paged.Runtime;

/// <summary>
/// Memory a <see cref="DeviceContext"/> allocated (device buffers, host swap pools). Holds a reference
/// on the context, so the context cannot be destroyed while the memory still lives, and gives it back
/// through the context when disposed or finalized.
/// </summary>
public abstract class ContextMemory : SafeHandle
{
    private protected ContextMemory(DeviceContext context, nint ptr, long bytes)
        : base(0, ownsHandle: true)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        Context = context;
        SetHandle(ptr);
        Bytes = bytes;
        LiveHandles.Allocated(bytes);
    }

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>The address (valid until disposal).</summary>
    public nint Address
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    private protected DeviceContext Context { get; }

    /// <summary>Returns the memory to the backend (called once, from ReleaseHandle).</summary>
    private protected abstract void Free(nint ptr);

    protected override bool ReleaseHandle()
    {
        Free(handle);
        LiveHandles.Freed(Bytes);
        Context.DangerousRelease();
        return true;
    }
}
