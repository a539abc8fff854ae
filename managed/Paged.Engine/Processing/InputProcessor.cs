using System.Diagnostics;
using Paged.Models;
using Paged.Engine.KvTransfer;
using Paged.Models.Tokenization;

namespace Paged.Engine;

/// <summary>A validated, tokenized request, not yet in the engine.</summary>
internal sealed record PreparedRequest(
    string Prompt, int[] PromptTokenIds, SamplingParams Sampling, RequestAttributes Attributes, string? ExternalId,
    long ArrivalTicks, DateTimeOffset ArrivalTime)
{
    public bool HoldKv { get; init; }

    public KvTransfer.KvImport? KvImport { get; init; }

    /// <summary>The LoRA adapter the request named, resolved at validation (null: the base model).</summary>
    public Paged.Models.Lora.LoraAdapter? Adapter { get; init; }
}

/// <summary>
/// The input processor: tokenizes and validates requests (every check that keeps a bad request from the
/// model), then builds the engine's <see cref="Request"/>. <see cref="Prepare"/> is thread-safe (it only reads
/// the tokenizer and the limits), so <see cref="AsyncEngine"/> runs it on the caller's thread and bad input
/// throws there; <see cref="Build"/> runs on the engine's thread.
/// </summary>
internal sealed class InputProcessor(ITokenizer tokenizer, ModelConfig config, EngineOptions options, int maxContext, Lora.LoraRegistry? adapters = null)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the first problem.</summary>
    public PreparedRequest Prepare(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var sampling = request.Sampling ?? throw new ArgumentException("the request has no sampling parameters");
        var attributes = request.Attributes ?? throw new ArgumentException("the request has no attributes");
        sampling.Validate();
        sampling.ValidateForVocabulary(config.VocabSize);
        if (sampling.N > options.MaxNumSeqs)
            throw new ArgumentException($"n = {sampling.N} exceeds max_num_seqs = {options.MaxNumSeqs}: its sequences could never run together");

        int[] ids;
        if (request.PromptTokenIds is { } given)
            ids = [.. given];
        else if (request.Prompt is { } text)
            ids = [.. tokenizer.Encode(text, addBos: true)];
        else
            throw new ArgumentException("the request has neither a prompt nor prompt token ids");

        if (ids.Length == 0)
            throw new ArgumentException("the prompt has no tokens");
        if (ids.Length >= maxContext)
        {
            throw new ArgumentException(
                $"the prompt has {ids.Length} tokens but the context holds {maxContext} (prompt and at least one generated token)");
        }

        foreach (int t in ids)
        {
            if ((uint)t >= (uint)config.VocabSize)
                throw new ArgumentException($"prompt token id {t} is outside the vocabulary (0..{config.VocabSize - 1})");
        }

        // Out-of-window blocks go back to the pool as a sequence advances (KvCacheManager), so a prefill's block
        // table has holes that a transfer cannot carry yet.
        if ((request.HoldKv || request.KvImport is not null) && config.SlidingWindow > 0)
            throw new ArgumentException($"disaggregated prefill/decode does not support sliding-window models yet (this one has a {config.SlidingWindow}-token window): send the request without kv_transfer_params");
        if (request.KvImport is { } import)
            KvImportCheck.Validate(import, ids, sampling, config.VocabSize, KvGeometry.Of(config, options.BlockSize, options.KvCacheDType));
        string prompt = request.Prompt ?? tokenizer.Decode(ids);
        var adapter = request.Lora is { } name
            ? adapters?.Resolve(name) ?? throw new ArgumentException($"unknown LoRA adapter '{name}': this engine has no LoRA support")
            : null;
        return new PreparedRequest(prompt, ids, sampling, attributes, request.RequestId, Stopwatch.GetTimestamp(), DateTimeOffset.UtcNow)
        {
            Adapter = adapter,
            HoldKv = request.HoldKv,
            KvImport = request.KvImport,
        };
    }

    /// <summary>The engine's request with its sequences, completion 0 seeded with <paramref name="seed"/>.</summary>
    public static Request Build(PreparedRequest p, long id, ulong seed, ref long nextSeqId)
    {
        var a = p.Attributes;
        // KV computed under an adapter is never shared with other adapters or the base model: its id is part
        // of every prefix-cache key of the request.
        ulong extraKey = a.ExtraKey ^ (p.Adapter?.CacheKey ?? 0);
        var request = new Request(id, p.Prompt, p.PromptTokenIds, p.Sampling, p.ArrivalTicks, a.Priority, a.Tenant ?? "", extraKey)
        {
            Adapter = p.Adapter,
            ExternalId = p.ExternalId,
            ArrivalTime = p.ArrivalTime,
            HoldKv = p.HoldKv,
            KvImport = p.KvImport,
        };
        request.CreateSequences(seed, ref nextSeqId);
        return request;
    }
}
