namespace Paged.Engine.KvTransfer;

/// <summary>
/// A finished prefill's blocks, pinned on the producer until the consumer acknowledges its pull or
/// <see cref="ExpiresUnixMs"/> passes: the blocks (in prompt order), the prompt they hold and the first token.
/// </summary>
public sealed record KvLease(string Id, long RequestId, int[] BlockIds, IReadOnlyList<int> PromptTokenIds, int FirstTokenId, long ExpiresUnixMs);

/// <summary>A lease's blocks copied out of the cache, back to back, for sending.</summary>
public sealed record KvExport(KvLease Lease, KvGeometry Geometry, byte[] Data);
