using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Engine.KvTransfer;
using Paged.Server.KvTransfer.Wire;

namespace Paged.Server.KvTransfer;

/// <summary>
/// The prefill side of the transport: streams a lease's blocks (the host copy taken when the prefill finished,
/// so a pull never waits for an engine step) in chunks of <see cref="ChunkBytes"/> with an XxHash64 per block,
/// and unpins them on the decode side's acknowledgement.
/// </summary>
internal sealed class KvTransferService(KvTransferHost host) : Wire.KvTransfer.KvTransferBase
{
    private readonly AsyncEngine _engine = host.Engine;
    private readonly KvTransferMetrics _metrics = host.Metrics!;
    private readonly KvTransferFault _fault = host.Fault;

    /// <summary>Bytes per message: well under gRPC's default 4 MiB message limit.</summary>
    public const int ChunkBytes = 1 << 20;

    public override async Task Pull(PullRequest request, IServerStreamWriter<BlockChunk> responseStream, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(responseStream);
        ArgumentNullException.ThrowIfNull(context);
        var clock = Stopwatch.StartNew();
        var export = _engine.KvConnector.Export(request.LeaseId) // a host copy: the engine's thread is not waited for
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"KV lease '{request.LeaseId}' is unknown, released or expired"));
        var wanted = new KvGeometry(request.NumLayers, request.NumKvHeads, request.BlockSize, request.HeadSize, request.KvDtype);
        if (export.Geometry.Mismatch(wanted) is { } mismatch)
            throw new RpcException(new Status(StatusCode.FailedPrecondition, mismatch));

        int bytesPerBlock = (int)export.Geometry.BytesPerBlock;
        bool first = true;
        for (int b = 0; b < export.Lease.BlockIds.Length; b++)
        {
            var block = new ReadOnlyMemory<byte>(export.Data, b * bytesPerBlock, bytesPerBlock);
            ulong checksum = KvChecksum.Of(block.Span);
            for (int offset = 0; offset < bytesPerBlock; offset += ChunkBytes)
            {
                var data = block.Slice(offset, Math.Min(ChunkBytes, bytesPerBlock - offset));
                if (first && _fault == KvTransferFault.Corrupt)
                {
                    byte[] bad = data.ToArray();
                    bad[bad.Length / 2] ^= 0x5A;
                    data = bad;
                }

                bool end = offset + data.Length == bytesPerBlock;
                await responseStream.WriteAsync(new BlockChunk
                {
                    BlockIndex = b, Offset = offset, Data = UnsafeByteOperations.UnsafeWrap(data), BlockEnd = end, Checksum = end ? checksum : 0,
                }, context.CancellationToken).ConfigureAwait(false);
                if (first)
                    InjectAfterFirstChunk(context);
                first = false;
            }
        }

        _metrics.Transferred("sent", export.Lease.BlockIds.Length, export.Data.LongLength, clock.Elapsed.TotalSeconds);
    }

    public override async Task<ReleaseReply> Release(ReleaseRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        bool released = await _engine.InvokeAsync(e => e.KvConnector.Release(request.LeaseId), context.CancellationToken).ConfigureAwait(false);
        return new ReleaseReply { Released = released };
    }

    private void InjectAfterFirstChunk(ServerCallContext context)
    {
        switch (_fault)
        {
            case KvTransferFault.Drop:
                context.GetHttpContext().Abort(); // the HTTP/2 stream is reset under the client
                throw new RpcException(new Status(StatusCode.Unavailable, "fault injection: connection dropped"));
            case KvTransferFault.Exit:
                KvTransferFaults.KillSelf();
                break;
            default:
                break;
        }
    }
}
