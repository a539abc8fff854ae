using System.Diagnostics;
using Paged.Models;
using Paged.Models.Llama;
using Paged.Models.Tokenization;
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
    private readonly BlockAllocator _blocks;
    private readonly FcfsScheduler _scheduler;
    private readonly Dictionary<long, Sequence> _live = [];
    private readonly List<(Sequence Seq, int Token)> _sampled = [];
    private readonly HashSet<int> _modelStopIds;
    private readonly SamplingRandom _engineRandom;
    private long _nextId;

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

        _context = Backend.Load(options.Device).CreateContext(options.NumThreads);
        try
        {
            var cache = new KvCache(_context, NumKvBlocks, Config.NumLayers, Config.NumKvHeads, options.BlockSize, Config.HeadSize);
            LlamaModel model;
            try
            {
                model = new LlamaModel(_context, weights, maxTokens, options.MaxNumSeqs, maxBlocksPerSeq);
            }
            catch
            {
                cache.Dispose();
                throw;
            }

            _runner = new ModelRunner(model, cache);
        }
        catch
        {
            _context.Dispose();
            throw;
        }

        _blocks = new BlockAllocator(NumKvBlocks);
        _scheduler = new FcfsScheduler(_blocks, options.BlockSize, options.MaxNumSeqs, maxTokens);
        DeviceName = _context.DeviceName;
    }

    /// <summary>Loads the model and its tokenizer from files and builds an engine.</summary>
    public static LlmEngine Create(string modelPath, string? tokenizerPath, EngineOptions options)
    {
        var weights = ModelLoader.Load(modelPath);
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

    public int NumFreeKvBlocks => _blocks.NumFree;

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
    public long AddRequest(string prompt, SamplingParams sampling)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return AddRequest(prompt, [.. Tokenizer.Encode(prompt, addBos: true)], sampling);
    }

    /// <summary>Queues a request whose prompt is already tokenized. Throws on invalid input; the engine stays usable.</summary>
    public long AddRequest(string prompt, int[] promptTokenIds, SamplingParams sampling)
    {
        ArgumentNullException.ThrowIfNull(promptTokenIds);
        ArgumentNullException.ThrowIfNull(sampling);
        sampling.Validate();
        sampling.ValidateForVocabulary(Config.VocabSize);
        if (promptTokenIds.Length == 0)
            throw new ArgumentException("the prompt has no tokens");
        if (promptTokenIds.Length >= MaxContext)
        {
            throw new ArgumentException(
                $"the prompt has {promptTokenIds.Length} tokens but the context holds {MaxContext} (prompt and at least one generated token)");
        }

        foreach (int t in promptTokenIds)
        {
            if ((uint)t >= (uint)Config.VocabSize)
                throw new ArgumentException($"prompt token id {t} is outside the vocabulary (0..{Config.VocabSize - 1})");
        }

        long id = _nextId++;
        ulong seed = sampling.Seed ?? _engineRandom.NextUInt64();
        var seq = new Sequence(id, prompt, promptTokenIds, sampling, new StreamingDetokenizer(Tokenizer), seed, Stopwatch.GetTimestamp());
        _live.Add(id, seq);
        _scheduler.Add(seq);
        return id;
    }

    /// <summary>Cancels a request; its blocks are freed at once. Unknown or finished ids are ignored.</summary>
    public bool Abort(long requestId)
    {
        if (!_live.Remove(requestId, out var seq))
            return false;
        _scheduler.Remove(seq);
        seq.Status = SequenceStatus.Finished;
        seq.FinishReason = FinishReason.Abort;
        return true;
    }

    /// <summary>Runs one step and returns a snapshot of every request that produced a token in it.</summary>
    public IReadOnlyList<RequestOutput> Step()
    {
        var outputs = new List<RequestOutput>();
        var plan = _scheduler.Schedule();
        Counters.Preemptions += plan.Preempted.Count;
        if (plan.IsEmpty)
            return outputs;

        long now = Stopwatch.GetTimestamp();
        foreach (var chunk in plan.Chunks)
            chunk.Sequence.ScheduledTicks ??= now;

        long forwardStart = Stopwatch.GetTimestamp();
        _runner.Execute(plan, _sampled);
        Counters.ExecuteTicks += Stopwatch.GetTimestamp() - forwardStart;
        Counters.Steps++;
        Counters.TokensComputed += plan.NumTokens;

        now = Stopwatch.GetTimestamp();
        foreach (var (seq, token) in _sampled)
        {
            int emittedBefore = seq.Text.Length;
            seq.FirstTokenTicks ??= now;
            if (token < 0)
            {
                // The sample op reported this row as failed (seq.Error says why): finish the request, keep running.
                seq.FinishReason = FinishReason.Error;
            }
            else
            {
                seq.Append(token);
                Counters.TokensGenerated++;
                ApplyStopRules(seq, token);
            }

            if (seq.FinishReason != FinishReason.None)
            {
                seq.FinishedTicks = now;
                seq.Status = SequenceStatus.Finished;
                _scheduler.Remove(seq);
                _live.Remove(seq.Id);
            }

            outputs.Add(Snapshot(seq, emittedBefore));
        }

        return outputs;
    }

    private void ApplyStopRules(Sequence seq, int token)
    {
        var p = seq.Sampling;
        if ((!p.IgnoreEos && _modelStopIds.Contains(token)) || p.StopTokenIds.Contains(token))
        {
            seq.Text += seq.Detokenizer.Flush();
            seq.FinishReason = FinishReason.Stop;
            return;
        }

        string delta = seq.Detokenizer.Append(token);
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

    private static RequestOutput Snapshot(Sequence seq, int emittedBefore)
    {
        double f = Stopwatch.Frequency;
        double Since(long? t) => (t!.Value - seq.ArrivalTicks) / f;
        return new RequestOutput
        {
            RequestId = seq.Id,
            Prompt = seq.Prompt,
            PromptTokenIds = seq.PromptTokenIds,
            TokenIds = seq.Tokens.Skip(seq.PromptTokenIds.Count).ToArray(),
            Text = seq.Text,
            TextDelta = emittedBefore <= seq.Text.Length ? seq.Text[emittedBefore..] : "",
            FinishReason = seq.FinishReason,
            Error = seq.Error,
            Logprobs = seq.Logprobs?.ToArray(),
            Timings = new RequestTimings(
                seq.ScheduledTicks is null ? 0 : Since(seq.ScheduledTicks),
                seq.FirstTokenTicks is null ? null : Since(seq.FirstTokenTicks),
                seq.FinishedTicks is null ? null : Since(seq.FinishedTicks),
                seq.Preemptions),
        };
    }

    /// <summary>
    /// Runs the given prompts to completion with continuous batching and returns their final outputs
    /// in input order. Invalid prompts throw before anything runs.
    /// </summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<(string Prompt, SamplingParams Sampling)> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var ids = new long[requests.Count];
        for (int i = 0; i < requests.Count; i++)
            ids[i] = AddRequest(requests[i].Prompt, requests[i].Sampling);
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

/// <summary>Running totals since the engine started.</summary>
public sealed class EngineCounters
{
    public long Steps { get; internal set; }

    public long TokensComputed { get; internal set; }

    public long TokensGenerated { get; internal set; }

    public long Preemptions { get; internal set; }

    /// <summary>Stopwatch ticks spent in the model runner (forward pass and sampling).</summary>
    public long ExecuteTicks { get; internal set; }

    public double ExecuteSeconds => ExecuteTicks / (double)Stopwatch.Frequency;
}
