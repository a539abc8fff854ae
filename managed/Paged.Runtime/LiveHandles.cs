namespace Paged.Runtime;

/// <summary>
/// Native handles this process holds now: contexts, and the device and host memory they allocated. A
/// handle counts from its successful creation until its release (dispose, or the finalizer of one never
/// disposed), so after every owner is disposed, and before any finalizer could run, the counts are back
/// where they started: the lifecycle tests' leak check.
/// </summary>
public static class LiveHandles
{
    private static long s_contexts;
    private static long s_allocations;
    private static long s_bytes;

    /// <summary>Contexts created and not yet destroyed.</summary>
    public static long Contexts => Interlocked.Read(ref s_contexts);

    /// <summary>Device buffers and host buffers allocated and not yet freed.</summary>
    public static long Allocations => Interlocked.Read(ref s_allocations);

    /// <summary>Bytes of those buffers.</summary>
    public static long Bytes => Interlocked.Read(ref s_bytes);

    internal static void ContextCreated() => Interlocked.Increment(ref s_contexts);

    internal static void ContextDestroyed() => Interlocked.Decrement(ref s_contexts);

    internal static void Allocated(long bytes)
    {
        Interlocked.Increment(ref s_allocations);
        Interlocked.Add(ref s_bytes, bytes);
    }

    internal static void Freed(long bytes)
    {
        Interlocked.Decrement(ref s_allocations);
        Interlocked.Add(ref s_bytes, -bytes);
    }
}
