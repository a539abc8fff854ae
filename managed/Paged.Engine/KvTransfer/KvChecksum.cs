using System.IO.Hashing;

namespace Paged.Engine.KvTransfer;

/// <summary>The per-block checksum every transport sends with a block and checks on arrival (XxHash64: fast, and any flipped bit changes it).</summary>
public static class KvChecksum
{
    public static ulong Of(ReadOnlySpan<byte> block) => XxHash64.HashToUInt64(block);
}
