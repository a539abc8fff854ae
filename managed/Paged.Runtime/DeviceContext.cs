using System.Runtime.InteropServices;
using Paged.Runtime.Interop;

namespace Paged.Runtime;

/// <summary>
/// A backend context: the device, its stream and worker threads. Ops are enqueued on it; on the CPU
/// backend they complete before returning. Every failure becomes a <see cref="BackendException"/>.
/// </summary>
public sealed unsafe class DeviceContext : SafeHandle
{
    internal DeviceContext(Backend backend, ContextOptions options)
        : base(0, ownsHandle: true)
    {
        Backend = backend;
        nint ctx;
        backend.Check(backend.Api->ContextCreate(&options, &ctx), "context_create");
        SetHandle(ctx);
        LiveHandles.ContextCreated();
    }

    public Backend Backend { get; }

    public override bool IsInvalid => handle == 0;

    private ApiTable* Api => Backend.Api;

    private nint Ctx
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }

    /// <summary>Human-readable description of the device ("cpu (avx2+fma, 2 threads)").</summary>
    public string DeviceName
    {
        get
        {
            byte* buffer = stackalloc byte[256];
            Backend.Check(Api->DeviceName(Ctx, buffer, 256), "device_name");
            return Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        }
    }

    protected override bool ReleaseHandle()
    {
        LiveHandles.ContextDestroyed();
        return Api->ContextDestroy(handle) == Status.Ok;
    }

    /// <summary>Allocates <paramref name="bytes"/> of device memory.</summary>
    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        nint ptr;
        Backend.Check(Api->Alloc(Ctx, (nuint)bytes, &ptr), "alloc");
        return new DeviceBuffer(this, ptr, bytes);
    }

    /// <summary>
    /// True when device memory is host memory (the CPU backend): host memory, such as a memory-mapped weight file,
    /// can then be used in place (<see cref="WrapHostMemory"/>) instead of copied.
    /// </summary>
    public bool DeviceMemoryIsHostMemory => Backend.Name == "cpu";

    /// <summary>
    /// Host memory [address, address + bytes) as a device buffer without a copy, on a backend whose device memory is
    /// host memory; disposing the buffer disposes <paramref name="owner"/> (which keeps the memory valid until then).
    /// </summary>
    public DeviceBuffer WrapHostMemory(nint address, long bytes, IDisposable owner)
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        if (address == 0)
            throw new ArgumentException("address must not be null", nameof(address));
        if (!DeviceMemoryIsHostMemory)
            throw new NotSupportedException($"the {Backend.Name} backend cannot use host memory in place: upload a copy");
        return new DeviceBuffer(this, address, bytes, owner);
    }

    /// <summary>Allocates a device buffer holding <paramref name="count"/> elements of T.</summary>
    public DeviceBuffer Allocate<T>(long count) where T : unmanaged => Allocate(count * sizeof(T));

    /// <summary>Allocates a device buffer and fills it with <paramref name="data"/>.</summary>
    public DeviceBuffer Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var buffer = Allocate<T>(Math.Max(1, data.Length));
        buffer.CopyFrom(data);
        return buffer;
    }

    internal void Free(nint ptr) => Api->Free(handle, ptr);

    internal void CopyToDevice(nint dst, void* src, long bytes) =>
        Backend.Check(Api->Memcpy(Ctx, dst, (nint)src, (nuint)bytes, (int)MemcpyKind.HostToDevice), "memcpy");

    internal void CopyToHost(void* dst, nint src, long bytes) =>
        Backend.Check(Api->Memcpy(Ctx, (nint)dst, src, (nuint)bytes, (int)MemcpyKind.DeviceToHost), "memcpy");

    /// <summary>Copies device memory at <paramref name="source"/> into <paramref name="destination"/> (waits for the stream).</summary>
    public void CopyToHost<T>(Span<T> destination, nint source) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(IsClosed, this); // also for an empty copy
        if (destination.IsEmpty)
            return;
        fixed (T* dst = destination)
            CopyToHost(dst, source, (long)destination.Length * sizeof(T));
    }

    /// <summary>Copies between two device addresses.</summary>
    public void CopyDeviceToDevice(nint dst, nint src, long bytes) =>
        Backend.Check(Api->Memcpy(Ctx, dst, src, (nuint)bytes, (int)MemcpyKind.DeviceToDevice), "memcpy");

    /// <summary>Sets <paramref name="bytes"/> bytes at <paramref name="dst"/> to <paramref name="value"/>.</summary>
    public void Memset(nint dst, byte value, long bytes) =>
        Backend.Check(Api->Memset(Ctx, dst, value, (nuint)bytes), "memset");

    /// <summary>Waits, launches and copies of this context so far (zero on the CPU backend).</summary>
    public BackendCounters Counters
    {
        get
        {
            BackendCounters c;
            Backend.Check(Api->GetCounters(Ctx, &c), "get_counters");
            return c;
        }
    }

    /// <summary>
    /// Starts capturing a graph: the ops enqueued from now until <see cref="EndCapture"/> are recorded, not run (paged.h,
    /// pg_graph). Nothing may allocate, free, wait or copy to or from the host meanwhile. False when the backend has no
    /// graphs (the cpu backend: run eagerly).
    /// </summary>
    public bool TryBeginCapture()
    {
        var status = Api->BeginCapture(Ctx);
        if (status == Status.Unsupported)
            return false;
        Backend.Check(status, "begin_capture");
        return true;
    }

    /// <summary>Stops capturing and returns the graph; throws (and keeps nothing) when a call during the capture failed.</summary>
    public DeviceGraph EndCapture()
    {
        nint graph;
        Backend.Check(Api->EndCapture(Ctx, &graph), "end_capture");
        return new DeviceGraph(this, graph);
    }

    internal void LaunchGraph(nint graph) => Backend.Check(Api->GraphLaunch(Ctx, graph), "graph_launch");

    internal void DestroyGraph(nint graph) => Api->GraphDestroy(handle, graph);

    /// <summary>Waits until every enqueued op has finished (and reports an error a kernel recorded).</summary>
    public void Synchronize() => Backend.Check(Api->Synchronize(Ctx), "synchronize");

    public void Embedding(in EmbeddingArgs args)
    {
        fixed (EmbeddingArgs* a = &args)
            Backend.Check(Api->Embedding(Ctx, a), "embedding");
    }

    public void RmsNorm(in RmsNormArgs args)
    {
        fixed (RmsNormArgs* a = &args)
            Backend.Check(Api->RmsNorm(Ctx, a), "rmsnorm");
    }

    /// <summary>RMSNorm of every (token, head) vector in place (Qwen3's q_norm / k_norm).</summary>
    public void HeadRmsNorm(in HeadRmsNormArgs args)
    {
        fixed (HeadRmsNormArgs* a = &args)
            Backend.Check(Api->HeadRmsNorm(Ctx, a), "head_rmsnorm");
    }

    public void Matmul(in MatmulArgs args)
    {
        fixed (MatmulArgs* a = &args)
            Backend.Check(Api->Matmul(Ctx, a), "matmul");
    }

    public void Rope(in RopeArgs args)
    {
        fixed (RopeArgs* a = &args)
            Backend.Check(Api->Rope(Ctx, a), "rope");
    }

    public void SiluMul(in SiluMulArgs args)
    {
        fixed (SiluMulArgs* a = &args)
            Backend.Check(Api->SiluMul(Ctx, a), "silu_mul");
    }

    /// <summary>Batched LoRA: adds each token's adapter delta (shrink then expand) to its output row.</summary>
    public void Lora(in LoraArgs args)
    {
        fixed (LoraArgs* a = &args)
            Backend.Check(Api->Lora(Ctx, a), "lora");
    }

    public void CacheWrite(in CacheWriteArgs args)
    {
        fixed (CacheWriteArgs* a = &args)
            Backend.Check(Api->CacheWrite(Ctx, a), "cache_write");
    }

    /// <summary>Rope then cache_write of the rotated keys and the values, in one pass (one launch on a GPU).</summary>
    public void RopeCacheWrite(in RopeCacheWriteArgs args)
    {
        fixed (RopeCacheWriteArgs* a = &args)
            Backend.Check(Api->RopeCacheWrite(Ctx, a), "rope_cache_write");
    }

    public void AttentionDecode(in AttentionArgs args)
    {
        fixed (AttentionArgs* a = &args)
            Backend.Check(Api->AttentionDecode(Ctx, a), "attention_decode");
    }

    public void AttentionPrefill(in AttentionArgs args)
    {
        fixed (AttentionArgs* a = &args)
            Backend.Check(Api->AttentionPrefill(Ctx, a), "attention_prefill");
    }

    public void BlockCopy(in BlockCopyArgs args)
    {
        fixed (BlockCopyArgs* a = &args)
            Backend.Check(Api->BlockCopy(Ctx, a), "block_copy");
    }

    /// <summary>
    /// Copies whole KV blocks between the cache and a host pool; <see cref="BlockSwapArgs.Pairs"/> is host memory.
    /// The copies are enqueued: read the pool after the next wait (<see cref="Synchronize"/>, a device-to-host copy).
    /// </summary>
    public void BlockSwap(in BlockSwapArgs args)
    {
        fixed (BlockSwapArgs* a = &args)
            Backend.Check(Api->BlockSwap(Ctx, a), "block_swap");
    }

    /// <summary>Allocates host memory suited to swaps (page-locked on CUDA).</summary>
    public HostBuffer AllocateHost(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        nint ptr;
        Backend.Check(Api->AllocHost(Ctx, (nuint)bytes, &ptr), "alloc_host");
        return new HostBuffer(this, ptr, bytes);
    }

    internal void FreeHost(nint ptr) => Api->FreeHost(handle, ptr);

    public void Argmax(in ArgmaxArgs args)
    {
        fixed (ArgmaxArgs* a = &args)
            Backend.Check(Api->Argmax(Ctx, a), "argmax");
    }

    /// <summary>Fused sampling; per-row failures (NaN logits) are reported in the status output, not thrown.</summary>
    public void Sample(in SampleArgs args)
    {
        fixed (SampleArgs* a = &args)
            Backend.Check(Api->Sample(Ctx, a), "sample");
    }
}
