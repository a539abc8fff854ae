using System.Collections.Concurrent;
using Paged.Engine.Kv;

namespace Paged.Engine.KvTransfer;

/// <summary>
/// The engine's KV connector for disaggregated prefill and decode. Consumer: a request carrying a
/// <see cref="KvImport"/> has its whole prompt supplied (its blocks are loaded, its first token taken from the
/// prefill). Producer: a request asking to hold its KV keeps its prompt's blocks pinned under a lease when it
/// finishes, and copies their bytes to host memory at once (in the step that finished it), so a pull never waits
/// for the engine's thread: <see cref="Export"/> hands that copy out. <see cref="Release"/> (the consumer's
/// acknowledgement) or <see cref="ExpireLeases"/> unpins the blocks and drops the copy. Mutations run on the
/// engine's thread; lookups and <see cref="Export"/> are thread-safe.
/// </summary>
public sealed class KvTransferConnector : IKvConnector
{
    private readonly ConcurrentDictionary<string, KvLease> _leases = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, KvLease> _byRequest = new();
    private readonly ConcurrentDictionary<string, KvExport> _exports = new(StringComparer.Ordinal);
    private KvCacheManager? _kv;
    private KvBlockMover? _mover;
    private int _pinnedBlocks;
    private long _expired;
    private long _released;

    public KvTransferConnector(TimeSpan leaseDuration)
    {
        if (leaseDuration <= TimeSpan.Zero)
            throw new ArgumentException($"the KV lease must be positive (got {leaseDuration})");
        LeaseDuration = leaseDuration;
    }

    public TimeSpan LeaseDuration { get; }

    /// <summary>The block shape this engine's cache has (null with an executor that has no KV cache of its own).</summary>
    public KvGeometry? Geometry { get; private set; }

    /// <summary>Blocks pinned by live leases.</summary>
    public int PinnedBlocks => Volatile.Read(ref _pinnedBlocks);

    public int LiveLeases => _leases.Count;

    public long LeasesExpired => Interlocked.Read(ref _expired);

    public long LeasesReleased => Interlocked.Read(ref _released);

    internal void Attach(KvCacheManager kv, KvBlockMover? mover, KvGeometry? geometry)
    {
        _kv = kv;
        _mover = mover;
        Geometry = geometry;
    }

    public int ExternalTokens(Sequence seq)
    {
        ArgumentNullException.ThrowIfNull(seq);
        return seq.Index == 0 && seq.NumComputed == 0 && seq.Request.KvImport is { } import ? import.NumTokens : 0;
    }

    public void PlanLoad(Sequence seq, StepPlan plan)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentNullException.ThrowIfNull(plan);
        plan.Loads.Add(new KvLoad(seq, seq.Request.KvImport ?? throw new InvalidOperationException("the sequence has nothing to load")));
    }

    public void LoadCompleted(Sequence seq)
    {
        ArgumentNullException.ThrowIfNull(seq);
        seq.Request.KvImport = null; // loaded once: a preempted sequence recomputes, and the bytes can go
    }

    public void OnFinishing(Sequence seq, KvCacheManager kv)
    {
        ArgumentNullException.ThrowIfNull(seq);
        ArgumentNullException.ThrowIfNull(kv);
        int prompt = seq.PromptTokenIds.Count;
        if (!seq.Request.HoldKv || seq.Index != 0 || seq.NumGenerated < 1 || seq.NumComputed < prompt
            || seq.FinishReason is FinishReason.None or FinishReason.Abort or FinishReason.Error)
            return;
        int[] blocks = [.. seq.BlockTable.Take(kv.BlocksFor(prompt))];
        kv.Pin(blocks);
        Interlocked.Add(ref _pinnedBlocks, blocks.Length);
        long expires = DateTimeOffset.UtcNow.Add(LeaseDuration).ToUnixTimeMilliseconds();
        var lease = new KvLease("kv-" + Guid.NewGuid().ToString("N"), seq.RequestId, blocks, seq.PromptTokenIds, seq.Tokens[prompt], expires);
        if (_mover is { } mover)
            _exports[lease.Id] = new KvExport(lease, Geometry!, CopyOut(mover, blocks));
        _leases[lease.Id] = lease;
        _byRequest[seq.RequestId] = lease;
    }

    /// <summary>The lease a finished holding request left (thread-safe; null when it left none: aborted, failed, or never asked).</summary>
    public KvLease? LeaseOf(long requestId) => _byRequest.TryGetValue(requestId, out var lease) ? lease : null;

    /// <summary>A live lease by id (thread-safe).</summary>
    public KvLease? Find(string leaseId) => _leases.TryGetValue(leaseId, out var lease) ? lease : null;

    /// <summary>A live lease's blocks as copied out when it was created (thread-safe). Null when the lease is unknown, released or expired.</summary>
    public KvExport? Export(string leaseId)
    {
        if (_mover is null)
            throw new InvalidOperationException("this engine's executor cannot export KV blocks");
        return _exports.TryGetValue(leaseId, out var export) ? export : null;
    }

    private static byte[] CopyOut(KvBlockMover mover, int[] blocks)
    {
        long bytes = mover.BytesPerBlock;
        var data = GC.AllocateUninitializedArray<byte>(checked((int)(blocks.Length * bytes)));
        for (int i = 0; i < blocks.Length; i++)
            mover.Export(blocks[i], data.AsSpan((int)(i * bytes), (int)bytes));
        return data;
    }

    /// <summary>The consumer has the blocks: unpin them (engine thread). False when the lease is already gone.</summary>
    public bool Release(string leaseId)
    {
        if (!Drop(leaseId))
            return false;
        Interlocked.Increment(ref _released);
        return true;
    }

    /// <summary>Whether some lease's deadline has passed (thread-safe).</summary>
    public bool HasExpired(long nowUnixMs) => _leases.Values.Any(l => l.ExpiresUnixMs <= nowUnixMs);

    /// <summary>Unpins every lease whose deadline passed (engine thread); returns how many.</summary>
    public int ExpireLeases(long nowUnixMs)
    {
        int n = 0;
        foreach (var lease in _leases.Values)
        {
            if (lease.ExpiresUnixMs <= nowUnixMs && Drop(lease.Id))
                n++;
        }

        Interlocked.Add(ref _expired, n);
        return n;
    }

    private bool Drop(string leaseId)
    {
        if (!_leases.TryRemove(leaseId, out var lease))
            return false;
        _byRequest.TryRemove(new KeyValuePair<long, KvLease>(lease.RequestId, lease));
        _exports.TryRemove(leaseId, out _);
        _kv!.Unpin(lease.BlockIds);
        Interlocked.Add(ref _pinnedBlocks, -lease.BlockIds.Length);
        return true;
    }
}
