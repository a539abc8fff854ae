using System.Diagnostics;
using Paged.Models;
using Paged.Models.Tokenization;
using Paged.Engine.Scheduling;
using Paged.Runtime;

namespace Paged.Engine;

/// <summary>
/// The engine: accepts requests at any time, runs continuous-batching steps (scheduler -> model
/// runner -> stop checks) and reports each request's progress. Not thread-safe: one caller drives
/// <see cref="Step"/>; the async/streaming front end of the serving issue wraps this loop.
/// </summary>
public sealed class LlmEngine : IDisposable
{
    private readonly DeviceContext _context;
    private readonly ModelRunner _runner;
    private readonly Scheduler _scheduler;
    private readonly Dictionary<long, Request> _live = [];
    private readonly List<(Sequence Seq, int Token)> _sampled = [];
    private readonly List<Request> _touched = [];
    private readonly HashSet<int> _modelStopIds;
    private readonly SamplingRandom _engineRandom;
    private long _nextId;
    private long _nextSeqId;

    public LlmEngine(ModelWeights weights, ITokenizer tokenizer, EngineOptions options)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Config = weights.Config;
        Tokenizer = tokenizer;
        _modelStopIds = [.. Config.StopTokenIds];
        _engineRandom = new SamplingRandom(options.Seed);

        NumKvBlocks = ChooseNumBlocks(Config, options);
        int maxContext = Math.Min(Config.MaxSeqLen, NumKvBlocks * options.BlockSize);
        MaxContext = maxContext;
        int maxBlocksPerSeq = (maxContext + options.BlockSize - 1) / options.BlockSize;
        int maxTokens = Math.Max(options.MaxNumBatchedTokens, options.MaxNumSeqs);
        long bytesPerBlock = KvCache.ElementsPerBlock(Config.NumLayers, Config.NumKvHeads, options.BlockSize, Config.HeadSize) * sizeof(float);
        long swapBytes = options.Preemption != PreemptionMode.Swap ? 0 : options.SwapSpaceBytes > 0 ? options.SwapSpaceBytes : 256L << 20;
        int swapSlots = (int)Math.Min(swapBytes / bytesPerBlock, 1 << 24);

        _context = Backend.Load(options.Device).CreateContext(options.NumThreads);
        try
        {
            var cache = new KvCache(_context, NumKvBlocks, Config.NumLayers, Config.NumKvHeads, options.BlockSize, Config.HeadSize);
            ICausalLM model;
            try
            {
                model = ModelRegistry.Create(_context, weights, new ModelCapacity(maxTokens, options.MaxNumSeqs, maxBlocksPerSeq));
            }
            catch
            {
                cache.Dispose();
                throw;
            }

            _runner = new ModelRunner(model, cache, swapSlots);
        }
        catch
        {
            _context.Dispose();
            throw;
        }

        _scheduler = new Scheduler(new SchedulerConfig
        {
            NumBlocks = NumKvBlocks,
            BlockSize = options.BlockSize,
            MaxNumSeqs = options.MaxNumSeqs,
            MaxNumBatchedTokens = maxTokens,
            PrefixCaching = options.PrefixCaching,
            ChunkedPrefill = options.ChunkedPrefill,
            Preemption = options.Preemption,
            SwapBlocks = swapSlots,
            Policy = options.Policy,
            FairShare = options.FairShare,
        });
        DeviceName = _context.DeviceName;
    }

    /// <summary>Loads the model and its tokenizer from files and builds an engine.</summary>
    public static LlmEngine Create(string modelPath, string? tokenizerPath, EngineOptions options)
    {
        using var weights = ModelLoader.Load(modelPath); // mapped files close once the model is on the device
        var tokenizer = TokenizerLoader.Load(modelPath, tokenizerPath, weights.Config);
        return new LlmEngine(weights, tokenizer, options);
    }

    public EngineOptions Options { get; }

    public ModelConfig Config { get; }

    public ITokenizer Tokenizer { get; }

    public string DeviceName { get; }

    public int NumKvBlocks { get; }

    /// <summary>Longest sequence (prompt + generated) the engine will hold.</summary>
    public int MaxContext { get; }

    public int NumFreeKvBlocks => _scheduler.Kv.Pool.NumFree;

    /// <summary>The scheduler (queues, block pool, prefix cache) for inspection.</summary>
    public Scheduler Scheduler => _scheduler;

    /// <summary>Metrics of the last step.</summary>
    public StepMetrics LastStep { get; private set; }

    public bool HasUnfinishedRequests => _scheduler.HasWork;

    public EngineCounters Counters { get; } = new();

    private static int ChooseNumBlocks(ModelConfig c, EngineOptions o)
    {
        long bytesPerBlock = KvCache.ElementsPerBlock(c.NumLayers, c.NumKvHeads, o.BlockSize, c.HeadSize) * sizeof(float);
        if (o.NumKvBlocks > 0)
            return o.NumKvBlocks;
        long bytes = o.KvMemoryBytes;
        if (bytes == 0)
        {
            long perSeq = (c.MaxSeqLen + o.BlockSize - 1) / o.BlockSize;
            bytes = Math.Min(perSeq * o.MaxNumSeqs * bytesPerBlock, 4L << 30);
        }

        long blocks = bytes / bytesPerBlock;
        if (blocks < 1)
            throw new ArgumentException($"KV memory of {bytes} bytes holds no block ({bytesPerBlock} bytes each)");
        return (int)Math.Min(blocks, int.MaxValue);
    }

    /// <summary>Tokenizes <paramref name="prompt"/> (with BOS) and queues it.</summary>
    public long AddRequest(string prompt, SamplingParams sampling) => AddRequest(prompt, sampling, new RequestAttributes());

    /// <summary>Tokenizes <paramref name="prompt"/> (with BOS) and queues it with a priority and tenant.</summary>
    public long AddRequest(string prompt, SamplingParams sampling, RequestAttributes attributes)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return AddRequest(prompt, [.. Tokenizer.Encode(prompt, addBos: true)], sampling, attributes);
    }

    /// <summary>Queues a request whose prompt is already tokenized. Throws on invalid input; the engine stays usable.</summary>
    public long AddRequest(string prompt, int[] promptTokenIds, SamplingParams sampling) =>
        AddRequest(prompt, promptTokenIds, sampling, new RequestAttributes());

    /// <summary>Queues a tokenized request with a priority and tenant.</summary>
    public long AddRequest(string prompt, int[] promptTokenIds, SamplingParams sampling, RequestAttributes attributes)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(attributes);
        sampling.Validate();
        sampling.ValidateForVocabulary(Config.VocabSize);
        if (promptTokenIds.Length == 0)
            throw new ArgumentException("the prompt has no tokens");
        if (promptTokenIds.Length >= MaxContext)
        {
            throw new ArgumentException(
                $"the prompt has {promptTokenIds.Length} tokens but the context holds {MaxContext} (prompt and at least one generated token)");
        }

        if (sampling.N > Options.MaxNumSeqs)
            throw new ArgumentException($"n = {sampling.N} exceeds max_num_seqs = {Options.MaxNumSeqs}: its sequences could never run together");
        foreach (int t in promptTokenIds)
        {
            if ((uint)t >= (uint)Config.VocabSize)
                throw new ArgumentException($"prompt token id {t} is outside the vocabulary (0..{Config.VocabSize - 1})");
        }

        long id = _nextId++;
        ulong seed = sampling.Seed ?? _engineRandom.NextUInt64();
        var request = new Request(id, prompt, promptTokenIds, sampling, Stopwatch.GetTimestamp(), attributes.Priority, attributes.Tenant ?? "", attributes.ExtraKey);
        request.CreateSequences(seed, () => new StreamingDetokenizer(Tokenizer), ref _nextSeqId);
        _live.Add(id, request);
        _scheduler.Add(request);
        return id;
    }

    /// <summary>Cancels a request; its blocks are freed at once. Unknown or finished ids are ignored.</summary>
    public bool Abort(long requestId)
    {
        if (!_live.Remove(requestId, out var request))
            return false;
        for (int i = request.Sequences.Count - 1; i >= 0; i--)
        {
            var seq = request.Sequences[i];
            if (seq.Status == SequenceStatus.Finished)
                continue;
            _scheduler.Finish(seq);
            seq.FinishReason = FinishReason.Abort;
        }

        return true;
    }

    /// <summary>Runs one step and returns a snapshot of every request that produced a token in it.</summary>
    public IReadOnlyList<RequestOutput> Step()
    {
        var outputs = new List<RequestOutput>();
        var plan = _scheduler.Schedule();
        Counters.Preemptions += plan.Preempted.Count;
        Counters.SwapOuts += plan.SwapOut.Count > 0 ? plan.Preempted.Count(s => s.Status == SequenceStatus.Swapped) : 0;
        Counters.BlockCopies += plan.Copies.Count;
        if (plan.IsEmpty)
        {
            // Nothing to compute, but a sequence preempted by swap must still have its blocks copied out.
            if (plan.HasWork)
                _runner.Execute(plan, _sampled);
            RecordStep(plan);
            return outputs;
        }

        long now = Stopwatch.GetTimestamp();
        foreach (var chunk in plan.Chunks)
            chunk.Sequence.Request.ScheduledTicks ??= now;

        long forwardStart = Stopwatch.GetTimestamp();
        _runner.Execute(plan, _sampled);
        Counters.ExecuteTicks += Stopwatch.GetTimestamp() - forwardStart;
        Counters.Steps++;
        Counters.TokensComputed += plan.NumTokens;
        Counters.PromptTokensComputed += plan.NumPromptTokens;
        _scheduler.CompleteStep(plan, _sampled);
        RecordStep(plan);

        now = Stopwatch.GetTimestamp();
        _touched.Clear();
        foreach (var (seq, token) in _sampled)
        {
            var request = seq.Request;
            request.FirstTokenTicks ??= now;
            if (token < 0)
            {
                // The sample op reported this row as failed (seq.Error says why): finish the request, keep running.
                seq.FinishReason = FinishReason.Error;
            }
            else
            {
                Counters.TokensGenerated++;
                ApplyStopRules(seq, token);
            }

            if (seq.FinishReason != FinishReason.None)
                _scheduler.Finish(seq);
            if (!_touched.Contains(request))
                _touched.Add(request);
        }

        foreach (var request in _touched)
        {
            if (request.IsFinished)
            {
                request.FinishedTicks = now;
                _live.Remove(request.Id);
            }

            outputs.Add(Snapshot(request));
        }

        return outputs;
    }

    private void RecordStep(StepPlan plan)
    {
        var pool = _scheduler.Kv.Pool;
        var cache = _scheduler.Kv.Cache;
        Counters.PrefixQueries = cache?.Queries ?? 0;
        Counters.PrefixHits = cache?.Hits ?? 0;
        LastStep = new StepMetrics(
            Counters.Steps, _scheduler.NumRunning, _scheduler.NumWaiting, _scheduler.NumSwapped, plan.NumTokens, plan.NumPromptTokens,
            plan.Preempted.Count, pool.NumUsed, pool.NumBlocks, pool.FilledSlotsInUse, (long)pool.NumUsed * pool.BlockSize, Counters.PrefixHitRate);
    }

    private void ApplyStopRules(Sequence seq, int token)
    {
        var p = seq.Sampling;
        if ((!p.IgnoreEos && _modelStopIds.Contains(token)) || p.StopTokenIds.Contains(token))
        {
            seq.Text += seq.Detokenizer!.Flush();
            seq.FinishReason = FinishReason.Stop;
            return;
        }

        string delta = seq.Detokenizer!.Append(token);
        bool length = seq.NumGenerated >= p.MaxTokens || seq.Length >= MaxContext;
        if (length)
            delta += seq.Detokenizer.Flush();
        if (delta.Length > 0)
        {
            int searchFrom = seq.Text.Length;
            seq.Text += delta;
            foreach (string stop in p.Stop)
            {
                int from = Math.Max(0, searchFrom - stop.Length + 1);
                int at = seq.Text.IndexOf(stop, from, StringComparison.Ordinal);
                if (at >= 0)
                {
                    seq.Text = seq.Text[..at];
                    seq.FinishReason = FinishReason.Stop;
                    return;
                }
            }
        }

        if (length)
            seq.FinishReason = FinishReason.Length;
    }

    private static RequestOutput Snapshot(Request request)
    {
        double f = Stopwatch.Frequency;
        double Since(long? t) => (t!.Value - request.ArrivalTicks) / f;
        var completions = new CompletionOutput[request.Sequences.Count];
        int preemptions = 0;
        for (int i = 0; i < completions.Length; i++)
        {
            var seq = request.Sequences[i];
            string delta = seq.TextEmitted <= seq.Text.Length ? seq.Text[seq.TextEmitted..] : "";
            seq.TextEmitted = seq.Text.Length;
            completions[i] = new CompletionOutput(i, seq.Tokens.Skip(seq.PromptTokenIds.Count).ToArray(), seq.Text, delta, seq.FinishReason);
            preemptions += seq.Preemptions;
        }

        var first = completions[0];
        return new RequestOutput
        {
            RequestId = request.Id,
            Prompt = request.Prompt,
            PromptTokenIds = request.PromptTokenIds,
            TokenIds = first.TokenIds,
            Text = first.Text,
            TextDelta = first.TextDelta,
            FinishReason = first.FinishReason,
            Finished = request.IsFinished,
            Completions = completions,
            CachedPromptTokens = request.CachedPromptTokens,
            Error = request.Sequences.Select(s => s.Error).FirstOrDefault(e => e is not null),
            Logprobs = request.Sequences[0].Logprobs?.ToArray(),
            Timings = new RequestTimings(
                request.ScheduledTicks is null ? 0 : Since(request.ScheduledTicks),
                request.FirstTokenTicks is null ? null : Since(request.FirstTokenTicks),
                request.FinishedTicks is null ? null : Since(request.FinishedTicks),
                preemptions),
        };
    }

    /// <summary>
    /// Runs the given prompts to completion with continuous batching and returns their final outputs
    /// in input order. Invalid prompts throw before anything runs.
    /// </summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<(string Prompt, SamplingParams Sampling)> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return Generate(requests.Select(r => (r.Prompt, r.Sampling, new RequestAttributes())).ToList());
    }

    /// <summary>As <see cref="Generate(IReadOnlyList{ValueTuple{string, SamplingParams}})"/> with per-request priority and tenant.</summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<(string Prompt, SamplingParams Sampling, RequestAttributes Attributes)> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return Generate(requests.Select(r => (r.Prompt, (int[]?)null, r.Sampling, r.Attributes)).ToList());
    }

    /// <summary>Like <see cref="Generate(IReadOnlyList{ValueTuple{string, SamplingParams, RequestAttributes}})"/>; a request with token ids is not tokenized.</summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<(string Prompt, int[]? PromptTokenIds, SamplingParams Sampling, RequestAttributes Attributes)> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var ids = new long[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            ids[i] = r.PromptTokenIds is null ? AddRequest(r.Prompt, r.Sampling, r.Attributes) : AddRequest(r.Prompt, r.PromptTokenIds, r.Sampling, r.Attributes);
        }

        var final = new Dictionary<long, RequestOutput>();
        while (final.Count < ids.Length)
        {
            foreach (var o in Step())
            {
                if (o.Finished)
                    final[o.RequestId] = o;
            }
        }

        return ids.Select(id => final[id]).ToArray();
    }

    public void Dispose()
    {
        _runner.Dispose();
        _context.Dispose();
    }
}
