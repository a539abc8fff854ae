namespace Paged.Engine.KvTransfer;

/// <summary>
/// A prompt's KV received from another engine (the prefill side), already verified: the bytes of its
/// <see cref="NumBlocks"/> blocks back to back, the prompt tokens they hold and the first token the prefill
/// sampled. A request carrying one is admitted with these blocks loaded instead of computing its prompt, and
/// continues from the first token as if it had sampled it.
/// </summary>
public sealed class KvImport
{
    public KvImport(KvGeometry geometry, IReadOnlyList<int> promptTokenIds, int firstTokenId, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        Geometry = geometry;
        PromptTokenIds = promptTokenIds;
        FirstTokenId = firstTokenId;
        Data = data;
        NumBlocks = (promptTokenIds.Count + geometry.BlockSize - 1) / geometry.BlockSize;
        if (data.Length != NumBlocks * geometry.BytesPerBlock)
            throw new ArgumentException($"{promptTokenIds.Count} prompt tokens need {NumBlocks} blocks of {geometry.BytesPerBlock} bytes, got {data.Length} bytes");
    }

    public KvGeometry Geometry { get; }

    /// <summary>The tokens whose keys and values the blocks hold (the whole prompt).</summary>
    public IReadOnlyList<int> PromptTokenIds { get; }

    public int NumTokens => PromptTokenIds.Count;

    public int NumBlocks { get; }

    /// <summary>The token the prefill side sampled after the prompt (with the request's seed at step 0).</summary>
    public int FirstTokenId { get; }

    public ReadOnlyMemory<byte> Data { get; }
}

/// <summary>One planned load: write <paramref name="Source"/>'s blocks into <paramref name="Sequence"/>'s block table before the step.</summary>
public readonly record struct KvLoad(Sequence Sequence, KvImport Source);
