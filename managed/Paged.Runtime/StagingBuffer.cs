namespace Paged.Runtime;

/// <summary>
/// Packs a step's small host arrays (index arrays, copy pairs, sampling parameters) into one
/// page-locked host buffer and moves them to the device in ONE asynchronous host-to-device copy
/// (paged.h: index arrays are device memory; a copy from alloc_host memory does not wait).
/// Usage per step: <see cref="Clear"/>, <see cref="Stage{T}"/> each array (keep the returned
/// offsets), <see cref="Flush"/>, then pass <see cref="Address"/>(offset) to the ops. Not thread-safe.
/// Double-buffered on the host: consecutive steps stage into alternate page-locked buffers, so a step
/// that does not read anything back (an intermediate chunk of a chunked prefill) does not make the next
/// step wait for its copy; only a buffer whose copy has not been waited for since is waited for. The
/// device side needs one buffer: copies and kernels run in stream order.
/// </summary>
public sealed unsafe class StagingBuffer : IDisposable
{
    private const int Alignment = 256; // every array starts on a 256-byte boundary (vector loads, coalescing)
    private readonly DeviceContext _ctx;
    private readonly HostBuffer?[] _hosts = new HostBuffer?[2];
    private readonly long[] _syncsAtFlush = [-1, -1]; // per host buffer: the host's wait count when its copy was enqueued
    private int _slot; // the host buffer this step stages into
    private DeviceBuffer? _device;
    private long _used;
    private bool _disposed;

    public StagingBuffer(DeviceContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _ctx = context;
    }

    /// <summary>Bytes staged since <see cref="Clear"/>.</summary>
    public long Bytes => _used;

    /// <summary>Starts a new step in the other host buffer. That buffer's copy (two steps back) may still
    /// be reading it, so if the host has not waited since it was enqueued, wait now; the previous step's
    /// copy reads the buffer this step does not touch.</summary>
    public void Clear()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _slot ^= 1;
        if (_syncsAtFlush[_slot] >= 0 && _ctx.Counters.HostSyncs == _syncsAtFlush[_slot])
            _ctx.Synchronize();
        _syncsAtFlush[_slot] = -1;
        _used = 0;
    }

    /// <summary>Appends <paramref name="data"/>; returns its byte offset (for <see cref="Address"/> after <see cref="Flush"/>).</summary>
    public long Stage<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_disposed, this); // else it would allocate a new host buffer after disposal
        long offset = (_used + Alignment - 1) / Alignment * Alignment;
        long bytes = (long)data.Length * sizeof(T);
        EnsureHost(offset + Math.Max(bytes, 1));
        data.CopyTo(new Span<T>((byte*)_hosts[_slot]!.Address + offset, data.Length));
        _used = offset + Math.Max(bytes, 1);
        return offset;
    }

    /// <summary>One host-to-device copy of everything staged since <see cref="Clear"/>.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_used == 0)
            return;
        if (_device is null || _device.Bytes < _used)
        {
            _device?.Dispose();
            _device = _ctx.Allocate(Math.Max(_used, _hosts[_slot]!.Bytes));
        }

        _ctx.CopyToDevice(_device.Address, (void*)_hosts[_slot]!.Address, _used);
        _syncsAtFlush[_slot] = _ctx.Counters.HostSyncs;
    }

    /// <summary>The device address of the array staged at <paramref name="offset"/> (valid after <see cref="Flush"/>).</summary>
    public nint Address(long offset)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_device is null || offset >= _used)
            throw new InvalidOperationException($"offset {offset} was not staged and flushed");
        return _device.Address + (nint)offset;
    }

    private void EnsureHost(long need)
    {
        var host = _hosts[_slot];
        if (host is not null && host.Bytes >= need)
            return;
        long size = Math.Max(need, Math.Max(4096, (host?.Bytes ?? 0) * 2));
        var bigger = _ctx.AllocateHost(size);
        if (host is not null)
        {
            new Span<byte>((void*)host.Address, (int)_used).CopyTo(new Span<byte>((void*)bigger.Address, (int)_used));
            host.Dispose(); // free_host waits: its copy, if any, is done
        }

        _hosts[_slot] = bigger;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var host in _hosts)
            host?.Dispose();
        _device?.Dispose();
    }
}
