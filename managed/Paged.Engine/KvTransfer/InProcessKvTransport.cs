namespace Paged.Engine.KvTransfer;

/// <summary>
/// Moves a lease's blocks between two engines of one process (the engines may run on different backends): the
/// producer exports them, each block is checksummed, handed over (through <see cref="Tamper"/>, a test hook) and
/// verified, and the consumer gets a <see cref="KvImport"/>. The caller owns both engines' threads. The same
/// steps as the gRPC transport without the wire, for unit tests.
/// </summary>
public sealed class InProcessKvTransport(LlmEngine producer)
{
    /// <summary>Changes the bytes in flight (tests: flip a byte to see the checksum catch it).</summary>
    public Action<byte[]>? Tamper { get; init; }

    /// <summary>Pulls a lease's blocks for a consumer of geometry <paramref name="local"/>; throws <see cref="InvalidDataException"/> when a block fails its checksum, <see cref="KeyNotFoundException"/> when the lease is gone.</summary>
    public KvImport Pull(string leaseId, KvGeometry local)
    {
        ArgumentNullException.ThrowIfNull(local);
        var export = producer.KvConnector.Export(leaseId) ?? throw new KeyNotFoundException($"KV lease '{leaseId}' is unknown, released or expired");
        if (local.Mismatch(export.Geometry) is { } mismatch)
            throw new ArgumentException(mismatch);
        int bytes = (int)local.BytesPerBlock;
        var checksums = new ulong[export.Lease.BlockIds.Length];
        for (int b = 0; b < checksums.Length; b++)
            checksums[b] = KvChecksum.Of(export.Data.AsSpan(b * bytes, bytes));
        byte[] wire = [.. export.Data];
        Tamper?.Invoke(wire);
        for (int b = 0; b < checksums.Length; b++)
        {
            if (KvChecksum.Of(wire.AsSpan(b * bytes, bytes)) != checksums[b])
                throw new InvalidDataException($"block {b} of lease {leaseId} failed its checksum");
        }

        return new KvImport(local, export.Lease.PromptTokenIds, export.Lease.FirstTokenId, wire);
    }

    /// <summary>The consumer's acknowledgement: the producer unpins the lease's blocks.</summary>
    public bool Release(string leaseId) => producer.KvConnector.Release(leaseId);
}
