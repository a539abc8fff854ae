namespace Paged.Engine.KvTransfer;

/// <summary>What a request carrying received KV must satisfy (the input processor's checks; each failure names the problem).</summary>
internal static class KvImportCheck
{
    public static void Validate(KvImport import, IReadOnlyList<int> promptTokenIds, SamplingParams sampling, int vocabSize, KvGeometry local)
    {
        if (local.Mismatch(import.Geometry) is { } mismatch)
            throw new ArgumentException(mismatch);
        if (!import.PromptTokenIds.SequenceEqual(promptTokenIds))
            throw new ArgumentException($"the received KV holds a different prompt ({import.NumTokens} tokens) than the request ({promptTokenIds.Count} tokens)");
        if (sampling.N != 1)
            throw new ArgumentException($"received KV can continue one completion, not n = {sampling.N}");
        if (sampling.Logprobs is not null)
            throw new ArgumentException("received KV carries no logprobs for the first token: request logprobs from a colocated instance");
        if ((uint)import.FirstTokenId >= (uint)vocabSize)
            throw new ArgumentException($"the received first token {import.FirstTokenId} is outside the vocabulary (0..{vocabSize - 1})");
    }
}
