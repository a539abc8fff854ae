using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Paged.Engine.KvTransfer;
using Paged.Server.KvTransfer.Wire;

namespace Paged.Server.KvTransfer;

/// <summary>A pull that did not deliver verified blocks (the decode side then recomputes, or fails, by policy).</summary>
internal sealed class KvTransferException(string reason, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>A short label for the failures metric: lease, geometry, connection, timeout, checksum, protocol.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// The decode side of the transport: pulls a lease's blocks over gRPC into one host buffer, checks every
/// chunk's place and every block's XxHash64, and acknowledges to the prefill side so it unpins them.
/// Channels are kept per prefill address.
/// </summary>
internal sealed class KvPuller(KvTransferMetrics metrics, TimeSpan timeout, KvTransferFault fault) : IDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);

    public async Task<KvImport> PullAsync(KvRemoteHandle handle, KvGeometry local, CancellationToken cancellationToken)
    {
        if (local.Mismatch(handle.Geometry) is { } mismatch)
            throw new KvTransferException("geometry", mismatch);
        var clock = Stopwatch.StartNew();
        int bytesPerBlock = (int)local.BytesPerBlock;
        int numBlocks = handle.BlockIds.Length;
        var data = GC.AllocateUninitializedArray<byte>(checked(numBlocks * bytesPerBlock));
        var filled = new long[numBlocks];
        int verified = 0;
        var client = new Wire.KvTransfer.KvTransferClient(Channel(handle.Address));
        var request = new PullRequest
        {
            LeaseId = handle.LeaseId, NumLayers = local.NumLayers, NumKvHeads = local.NumKvHeads,
            BlockSize = local.BlockSize, HeadSize = local.HeadSize, KvDtype = local.DType,
        };
        try
        {
            using var call = client.Pull(request, deadline: DateTime.UtcNow + timeout, cancellationToken: cancellationToken);
            bool first = true;
            await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                int b = chunk.BlockIndex;
                if ((uint)b >= (uint)numBlocks || chunk.Offset != filled[b] || chunk.Offset + chunk.Data.Length > bytesPerBlock)
                    throw new KvTransferException("protocol", $"chunk out of place: block {b}, offset {chunk.Offset}, {chunk.Data.Length} bytes");
                chunk.Data.Span.CopyTo(data.AsSpan((b * bytesPerBlock) + (int)chunk.Offset));
                filled[b] += chunk.Data.Length;
                if (first && fault == KvTransferFault.DecodeExit)
                    KvTransferFaults.KillSelf();
                first = false;
                if (!chunk.BlockEnd)
                    continue;
                if (filled[b] != bytesPerBlock)
                    throw new KvTransferException("protocol", $"block {b} ended after {filled[b]} of {bytesPerBlock} bytes");
                if (KvChecksum.Of(data.AsSpan(b * bytesPerBlock, bytesPerBlock)) != chunk.Checksum)
                    throw new KvTransferException("checksum", $"block {b} of lease {handle.LeaseId} failed its checksum");
                verified++;
            }
        }
        catch (RpcException e)
        {
            throw e.StatusCode switch
            {
                StatusCode.NotFound => new KvTransferException("lease", e.Status.Detail, e),
                StatusCode.FailedPrecondition => new KvTransferException("geometry", e.Status.Detail, e),
                StatusCode.DeadlineExceeded => new KvTransferException("timeout", $"the pull from {handle.Address} took longer than {timeout.TotalSeconds:0.#} s", e),
                StatusCode.Cancelled when cancellationToken.IsCancellationRequested => new OperationCanceledException(cancellationToken),
                _ => new KvTransferException("connection", $"the pull from {handle.Address} failed: {e.Status.StatusCode}: {e.Status.Detail}", e),
            };
        }

        if (verified != numBlocks)
            throw new KvTransferException("protocol", $"the stream ended after {verified} of {numBlocks} blocks");
        metrics.Transferred("received", numBlocks, data.LongLength, clock.Elapsed.TotalSeconds);
        return new KvImport(local, handle.PromptTokenIds, handle.FirstTokenId, data);
    }

    /// <summary>Tells the prefill side to unpin the lease; failures only mean the lease expires instead.</summary>
    public async Task ReleaseAsync(KvRemoteHandle handle)
    {
        try
        {
            var client = new Wire.KvTransfer.KvTransferClient(Channel(handle.Address));
            await client.ReleaseAsync(new ReleaseRequest { LeaseId = handle.LeaseId }, deadline: DateTime.UtcNow + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The prefill side is gone or the lease already ended: its lease expiry frees the blocks.
        }
    }

    private GrpcChannel Channel(string address) => _channels.GetOrAdd(address, a => GrpcChannel.ForAddress(
        "http://" + a, new GrpcChannelOptions { MaxReceiveMessageSize = 2 * KvTransferService.ChunkBytes }));

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
            channel.Dispose();
        _channels.Clear();
    }
}
