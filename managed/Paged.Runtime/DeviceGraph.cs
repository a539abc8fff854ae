namespace Paged.Runtime;

/// <summary>
/// A captured sequence of ops (paged.h's pg_graph: a CUDA graph, or the simt emulator's recorded launch list), made
/// by <see cref="DeviceContext.TryBeginCapture"/> .. <see cref="DeviceContext.EndCapture"/>. <see cref="Launch"/>
/// enqueues all of it as one launch, with the captured arguments: the same device addresses, shapes and scalars,
/// reading what those addresses hold then. Valid while every buffer it names lives at its address. Holds a
/// reference on its context (a graph belongs to the context that captured it).
/// </summary>
public sealed class DeviceGraph : ContextMemory
{
    internal DeviceGraph(DeviceContext context, nint graph)
        : base(context, graph, 0)
    {
    }

    /// <summary>Replays the graph on the context's stream (no wait).</summary>
    public void Launch() => Context.LaunchGraph(Address);

    private protected override void Free(nint ptr) => Context.DestroyGraph(ptr);
}
