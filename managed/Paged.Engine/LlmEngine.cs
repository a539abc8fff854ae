using System.Diagnostics;
using Paged.Models;
using Paged.Models.Tokenization;
using Paged.Engine.KvTransfer;
using Paged.Engine.Scheduling;

namespace Paged.Engine;

/// <summary>
/// The synchronous engine: accepts requests at any time and runs continuous-batching steps, each one
/// input processor (at <see cref="AddRequest(GenerationRequest)"/>) -> engine core (schedule, execute,
/// complete) -> output processor (text, stop strings, deltas). One thread at a time: a second thread
/// calling in while one is inside gets an <see cref="InvalidOperationException"/>; <see cref="AsyncEngine"/>
/// is the way to share an engine.
/// </summary>
public sealed partial class LlmEngine : IDisposable
{
    private readonly EngineCore _core;
    private readonly InputProcessor _inputs;
    private readonly OutputProcessor _outputs;
    private readonly Dictionary<long, Request> _live = [];
    private readonly SamplingRandom _engineRandom;
    private readonly SingleThreadGuard _guard = new(nameof(LlmEngine));
    private long _nextId;
    private long _nextSeqId;
    private bool _disposed;

    public LlmEngine(ModelWeights weights, ITokenizer tokenizer, EngineOptions options)
        : this((weights ?? throw new ArgumentNullException(nameof(weights))).Config, tokenizer, options, shape => ModelRunner.Create(weights, options, shape))
    {
    }

    /// <summary>An engine around another model executor (tests, or a backend of your own); the engine owns it.</summary>
    public LlmEngine(IModelExecutor executor, ModelConfig config, ITokenizer tokenizer, EngineOptions options)
        : this(config, tokenizer, options, _ => executor ?? throw new ArgumentNullException(nameof(executor)))
    {
    }

    private LlmEngine(ModelConfig config, ITokenizer tokenizer, EngineOptions options, Func<EngineShape, IModelExecutor> createExecutor)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Config = config;
        Tokenizer = tokenizer;
        _engineRandom = new SamplingRandom(options.Seed);
        var shape = EngineShape.From(config, options);
        NumKvBlocks = shape.NumKvBlocks;
        MaxContext = shape.MaxContext;
        var executor = createExecutor(shape);
        DeviceName = executor is ModelRunner runner ? runner.DeviceName : executor.GetType().Name;
        KvConnector = new KvTransferConnector(options.KvLease);
        var residency = executor.Adapters;
        Adapters = new Lora.LoraRegistry(config, residency is null ? 0 : options.MaxLoras, options.MaxLoraRank) { SlotDType = residency?.SlotDType ?? default };
        var scheduler = new Scheduler(new SchedulerConfig
        {
            NumBlocks = shape.NumKvBlocks,
            BlockSize = options.BlockSize,
            MaxNumSeqs = options.MaxNumSeqs,
            MaxNumBatchedTokens = shape.MaxBatchedTokens,
            PrefixCaching = options.PrefixCaching,
            ChunkedPrefill = options.ChunkedPrefill,
            Preemption = options.Preemption,
            SwapBlocks = shape.SwapSlots,
            Policy = options.Policy,
            FairShare = options.FairShare,
            SlidingWindow = config.SlidingWindow,
        }, connector: KvConnector, adapters: residency);
        KvConnector.Attach(scheduler.Kv, (executor as ModelRunner)?.Mover, KvGeometry.Of(config, options.BlockSize, options.KvCacheDType));
        _core = new EngineCore(scheduler, executor, config.StopTokenIds, shape.MaxContext);
        _inputs = new InputProcessor(tokenizer, config, options, shape.MaxContext, Adapters);
        _outputs = new OutputProcessor(tokenizer);
    }

    /// <summary>Loads the model and its tokenizer from files and builds an engine.</summary>
    public static LlmEngine Create(string modelPath, string? tokenizerPath, EngineOptions options)
    {
        using var weights = ModelLoader.Load(modelPath); // mapped files close once the model is on the device
        var tokenizer = TokenizerLoader.Load(modelPath, tokenizerPath, weights.Config);
        return new LlmEngine(weights, tokenizer, options);
    }

    public EngineOptions Options { get; }

    /// <summary>Disaggregated serving: holds finished prefills' blocks (leases) and loads received prompts' KV.</summary>
    public KvTransferConnector KvConnector { get; }

    /// <summary>The LoRA adapters this engine serves (load, unload, look up; thread-safe).</summary>
    public Lora.LoraRegistry Adapters { get; }

    public ModelConfig Config { get; }

    public ITokenizer Tokenizer { get; }

    public string DeviceName { get; }

    /// <summary>The backend's cumulative waits, launches and copies (paged.h pg_counters).</summary>
    public Paged.Runtime.Interop.BackendCounters BackendCounters => _core.Executor is ModelRunner runner ? runner.BackendCounters : default;

    public int NumKvBlocks { get; }

    /// <summary>Longest sequence (prompt + generated) the engine will hold.</summary>
    public int MaxContext { get; }

    public int NumFreeKvBlocks => _core.Scheduler.Kv.Pool.NumFree;

    /// <summary>The engine core (schedule, execute, complete).</summary>
    public EngineCore Core => _core;

    /// <summary>The scheduler (queues, block pool, prefix cache) for inspection.</summary>
    public Scheduler Scheduler => _core.Scheduler;

    /// <summary>Metrics of the last step.</summary>
    public StepMetrics LastStep => _core.LastStep;

    public bool HasUnfinishedRequests => _core.HasWork;

    public EngineCounters Counters => _core.Counters;

    /// <summary>Requests added and not yet finished or aborted.</summary>
    public int NumLiveRequests => _live.Count;

    /// <summary>What the last <see cref="Step"/> did in the core (valid until the next step).</summary>
    internal CoreStepResult? LastStepResult { get; private set; }

    internal InputProcessor Inputs => _inputs;

    /// <summary>Tokenizes <paramref name="prompt"/> (with BOS) and queues it.</summary>
    public long AddRequest(string prompt, SamplingParams sampling) => AddRequest(prompt, sampling, new RequestAttributes());

    /// <summary>Tokenizes <paramref name="prompt"/> (with BOS) and queues it with a priority and tenant.</summary>
    public long AddRequest(string prompt, SamplingParams sampling, RequestAttributes attributes)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(attributes);
        return AddRequest(new GenerationRequest { Prompt = prompt, Sampling = sampling, Attributes = attributes });
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
        return AddRequest(new GenerationRequest { Prompt = prompt, PromptTokenIds = promptTokenIds, Sampling = sampling, Attributes = attributes });
    }

    /// <summary>Validates, tokenizes and queues a request; returns its id. Throws <see cref="ArgumentException"/> on invalid input; the engine stays usable.</summary>
    public long AddRequest(GenerationRequest request)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Submit(_inputs.Prepare(request));
    }

    /// <summary>Queues a prepared request (the engine's thread).</summary>
    internal long Submit(PreparedRequest prepared)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(AddRequest));
        if (prepared.Adapter is { } a && !ReferenceEquals(Adapters.Find(a.Name), a))
            throw new ArgumentException($"the LoRA adapter '{a.Name}' was unloaded");
        long id = _nextId++;
        ulong seed = prepared.Sampling.Seed ?? _engineRandom.NextUInt64();
        var request = InputProcessor.Build(prepared, id, seed, ref _nextSeqId);
        request.WeightVersion = WeightVersion;
        _outputs.Add(request);
        _core.Add(request);
        _live.Add(id, request);
        if (request.Adapter is { } adapter)
            Adapters.Track(adapter);
        return id;
    }

    /// <summary>Cancels a request; its blocks are freed at once. Unknown or finished ids are ignored.</summary>
    public bool Abort(long requestId) => Terminate(requestId, FinishReason.Abort, null) is not null;

    /// <summary>Ends a live request now (blocks freed) and returns its final output; null for unknown or finished ids.</summary>
    internal RequestOutput? Terminate(long requestId, FinishReason reason, string? error)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(Abort));
        if (!_live.Remove(requestId, out var request))
            return null;
        Untrack(request);
        _core.Finish(request, reason, error);
        return Complete(request, Stopwatch.GetTimestamp());
    }

    /// <summary>Runs one step and returns the output of every request that produced a token (or failed) in it.</summary>
    public IReadOnlyList<RequestOutput> Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(Step));
        var step = _core.Step();
        LastStepResult = step;
        _outputs.Process(step, seq => _core.Finish(seq, FinishReason.Stop));
        if (step.Touched.Count == 0)
            return [];

        long now = Stopwatch.GetTimestamp();
        var outputs = new List<RequestOutput>(step.Touched.Count);
        foreach (var request in step.Touched)
        {
            if (request.IsFinished)
            {
                _live.Remove(request.Id);
                Untrack(request);
                outputs.Add(Complete(request, now));
            }
            else
                outputs.Add(_outputs.Snapshot(request));
        }

        return outputs;
    }

    private void Untrack(Request request)
    {
        if (request.Adapter is { } adapter)
            Adapters.Untrack(adapter);
    }

    private RequestOutput Complete(Request request, long now)
    {
        request.FinishedTicks ??= now;
        _core.Counters.CountFinished(request.Sequences[0].FinishReason);
        return _outputs.Snapshot(request);
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
        return Generate(requests.Select(r => new GenerationRequest { Prompt = r.Prompt, Sampling = r.Sampling, Attributes = r.Attributes }).ToList());
    }

    /// <summary>Runs the requests to completion; final outputs in input order. Every request is validated before any is queued.</summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<GenerationRequest> requests) => Generate(requests, null);

    /// <summary>As <see cref="Generate(IReadOnlyList{GenerationRequest})"/>, calling <paramref name="finished"/> with each request's final output as it finishes (progress reporting).</summary>
    public IReadOnlyList<RequestOutput> Generate(IReadOnlyList<GenerationRequest> requests, Action<RequestOutput>? finished)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var prepared = requests.Select(_inputs.Prepare).ToList();
        var ids = prepared.Select(Submit).ToArray();
        var final = new Dictionary<long, RequestOutput>();
        while (final.Count < ids.Length)
        {
            foreach (var o in Step())
            {
                if (o.Finished)
                {
                    final[o.RequestId] = o;
                    finished?.Invoke(o);
                }
            }
        }

        return ids.Select(id => final[id]).ToArray();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        using var _ = _guard.Enter(nameof(Dispose));
        _disposed = true;
        _core.Dispose();
    }
}
