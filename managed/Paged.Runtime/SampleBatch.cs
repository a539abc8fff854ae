using System.Runtime.InteropServices;
using Paged.Runtime.Interop;

namespace Paged.Runtime;

/// <summary>One row's sampling parameters for <see cref="SampleBatch"/> (see pg_sample_args in paged.h).</summary>
public sealed class SampleRow
{
    /// <summary>0 = greedy.</summary>
    public float Temperature { get; init; }

    /// <summary>-1 or 0 = off.</summary>
    public int TopK { get; init; }

    public float TopP { get; init; } = 1f;

    public float MinP { get; init; }

    public float RepetitionPenalty { get; init; } = 1f;

    public float FrequencyPenalty { get; init; }

    public float PresencePenalty { get; init; }

    /// <summary>Stop ids are masked while <see cref="Step"/> is below this.</summary>
    public int MinTokens { get; init; }

    /// <summary>Philox key of the row (the request's seed, or one the engine drew for it).</summary>
    public ulong Seed { get; init; }

    /// <summary>Tokens the sequence has generated so far (the Philox counter).</summary>
    public long Step { get; init; }

    /// <summary>The request gave its own seed (informational).</summary>
    public bool Seeded { get; init; }

    /// <summary>Top-N logprobs wanted, 0..20.</summary>
    public int NumLogprobs { get; init; }

    public bool ProcessedLogprobs { get; init; }

    /// <summary>Prompt followed by the generated tokens (penalty history); null = none.</summary>
    public IReadOnlyList<int>? History { get; init; }

    /// <summary>How many leading tokens of <see cref="History"/> are the prompt.</summary>
    public int PromptLength { get; init; }

    /// <summary>Ids masked until <see cref="MinTokens"/> tokens exist.</summary>
    public IReadOnlyList<int>? StopIds { get; init; }

    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    internal bool NeedsHistory => History is not null && (RepetitionPenalty != 1f || FrequencyPenalty != 0f || PresencePenalty != 0f);
}

/// <summary>
/// Runs the fused sample op over logit rows already on the device: stages the per-row parameters,
/// uploads them, runs the op and copies back only the small outputs (tokens, logprobs, statuses).
/// Buffers grow on demand and are reused. Not thread-safe.
/// </summary>
public sealed class SampleBatch : IDisposable
{
    private readonly DeviceContext _ctx;
    private readonly Column<float> _temperature = new(), _topP = new(), _minP = new(), _rep = new(), _freq = new(), _pres = new(), _biasValues = new();
    private readonly Column<int> _topK = new(), _minTokens = new(), _numLogprobs = new();
    private readonly Column<ulong> _seeds = new();
    private readonly Column<long> _steps = new();
    private readonly Column<uint> _flags = new();
    private readonly Column<int> _prompt = new(), _promptOff = new(), _output = new(), _outputOff = new(), _stop = new(), _stopOff = new(), _biasIds = new(), _biasOff = new();
    private readonly Column<int> _outTokens = new(), _outStatus = new(), _outTopIds = new();
    private readonly Column<float> _outLogprobs = new(), _outTopLogprobs = new();

    public SampleBatch(DeviceContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _ctx = context;
    }

    public int NumRows { get; private set; }

    /// <summary>Chosen token per row (-1 where the status is not Ok).</summary>
    public ReadOnlySpan<int> Tokens => _outTokens.Host.AsSpan(0, NumRows);

    public ReadOnlySpan<float> Logprobs => _outLogprobs.Host.AsSpan(0, NumRows);

    public ReadOnlySpan<SampleRowStatus> Status => MemoryMarshal.Cast<int, SampleRowStatus>(_outStatus.Host.AsSpan(0, NumRows));

    /// <summary>Top-N ids of row <paramref name="row"/> (its NumLogprobs entries).</summary>
    public ReadOnlySpan<int> TopIds(int row, int count) => _outTopIds.Host.AsSpan(row * SampleLimits.MaxLogprobs, count);

    public ReadOnlySpan<float> TopLogprobs(int row, int count) => _outTopLogprobs.Host.AsSpan(row * SampleLimits.MaxLogprobs, count);

    /// <summary>Samples one token from each of <paramref name="rows"/>.Count rows of <paramref name="logits"/> (device f32, row stride <paramref name="rowStride"/>).</summary>
    public void Run(nint logits, int vocabSize, int rowStride, IReadOnlyList<SampleRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int n = rows.Count;
        NumRows = n;
        if (n == 0)
            return;
        foreach (var c in new IClearable[] { _temperature, _topP, _minP, _rep, _freq, _pres, _biasValues, _topK, _minTokens, _numLogprobs, _seeds, _steps, _flags, _prompt, _promptOff, _output, _outputOff, _stop, _stopOff, _biasIds, _biasOff })
            c.Clear();
        bool anyLogprobs = false, anyHistory = false, anyStop = false, anyBias = false;
        _promptOff.Add(0);
        _outputOff.Add(0);
        _stopOff.Add(0);
        _biasOff.Add(0);
        foreach (var r in rows)
        {
            _temperature.Add(r.Temperature);
            _topK.Add(r.TopK);
            _topP.Add(r.TopP);
            _minP.Add(r.MinP);
            _rep.Add(r.RepetitionPenalty);
            _freq.Add(r.FrequencyPenalty);
            _pres.Add(r.PresencePenalty);
            _minTokens.Add(r.MinTokens);
            _seeds.Add(r.Seed);
            _steps.Add(r.Step);
            _flags.Add((uint)((r.Seeded ? SampleOptions.Seeded : 0) | (r.ProcessedLogprobs ? SampleOptions.ProcessedLogprobs : 0)));
            _numLogprobs.Add(r.NumLogprobs);
            anyLogprobs |= r.NumLogprobs > 0;
            if (r.NeedsHistory)
            {
                anyHistory = true;
                var h = r.History!;
                if (h is List<int> list)
                {
                    var span = CollectionsMarshal.AsSpan(list);
                    _prompt.AddRange(span[..r.PromptLength]);
                    _output.AddRange(span[r.PromptLength..]);
                }
                else
                {
                    for (int i = 0; i < h.Count; i++)
                        (i < r.PromptLength ? _prompt : _output).Add(h[i]);
                }
            }

            if (r.MinTokens > r.Step && r.StopIds is { Count: > 0 } stops)
            {
                anyStop = true;
                foreach (int s in stops)
                    _stop.Add(s);
            }

            if (r.LogitBias is { Count: > 0 } bias)
            {
                anyBias = true;
                foreach (var (id, value) in bias.OrderBy(kv => kv.Key))
                {
                    _biasIds.Add(id);
                    _biasValues.Add(value);
                }
            }

            _promptOff.Add(_prompt.Count);
            _outputOff.Add(_output.Count);
            _stopOff.Add(_stop.Count);
            _biasOff.Add(_biasIds.Count);
        }

        var args = new SampleArgs
        {
            OutTokens = _outTokens.Reserve(_ctx, n),
            OutLogprobs = _outLogprobs.Reserve(_ctx, n),
            OutStatus = _outStatus.Reserve(_ctx, n),
            OutTopIds = anyLogprobs ? _outTopIds.Reserve(_ctx, n * SampleLimits.MaxLogprobs) : 0,
            OutTopLogprobs = anyLogprobs ? _outTopLogprobs.Reserve(_ctx, n * SampleLimits.MaxLogprobs) : 0,
            Logits = logits,
            Temperature = _temperature.Upload(_ctx),
            TopK = _topK.Upload(_ctx),
            TopP = _topP.Upload(_ctx),
            MinP = _minP.Upload(_ctx),
            RepetitionPenalty = _rep.Upload(_ctx),
            FrequencyPenalty = _freq.Upload(_ctx),
            PresencePenalty = _pres.Upload(_ctx),
            MinTokens = _minTokens.Upload(_ctx),
            Seeds = _seeds.Upload(_ctx),
            Steps = _steps.Upload(_ctx),
            Flags = _flags.Upload(_ctx),
            NumLogprobs = _numLogprobs.Upload(_ctx),
            PromptTokens = anyHistory ? _prompt.Upload(_ctx) : 0,
            PromptOffsets = anyHistory ? _promptOff.Upload(_ctx) : 0,
            OutputTokens = anyHistory ? _output.Upload(_ctx) : 0,
            OutputOffsets = anyHistory ? _outputOff.Upload(_ctx) : 0,
            StopIds = anyStop ? _stop.Upload(_ctx) : 0,
            StopOffsets = anyStop ? _stopOff.Upload(_ctx) : 0,
            BiasIds = anyBias ? _biasIds.Upload(_ctx) : 0,
            BiasValues = anyBias ? _biasValues.Upload(_ctx) : 0,
            BiasOffsets = anyBias ? _biasOff.Upload(_ctx) : 0,
            NumRows = n,
            VocabSize = vocabSize,
            RowStride = rowStride,
            DType = DType.F32,
        };
        _ctx.Sample(args);
        _outTokens.Download(n);
        _outLogprobs.Download(n);
        _outStatus.Download(n);
        if (anyLogprobs)
        {
            _outTopIds.Download(n * SampleLimits.MaxLogprobs);
            _outTopLogprobs.Download(n * SampleLimits.MaxLogprobs);
        }
    }

    public void Dispose()
    {
        foreach (var c in new IDisposable[] { _temperature, _topP, _minP, _rep, _freq, _pres, _biasValues, _topK, _minTokens, _numLogprobs, _seeds, _steps, _flags, _prompt, _promptOff, _output, _outputOff, _stop, _stopOff, _biasIds, _biasOff, _outTokens, _outStatus, _outTopIds, _outLogprobs, _outTopLogprobs })
            c.Dispose();
    }

    private interface IClearable
    {
        void Clear();
    }

    /// <summary>A growable host array with a device twin.</summary>
    private sealed class Column<T> : IClearable, IDisposable where T : unmanaged
    {
        private DeviceBuffer? _device;
        private long _capacity;

        public T[] Host { get; private set; } = new T[16];

        public int Count { get; private set; }

        public void Clear() => Count = 0;

        public void Add(T value)
        {
            if (Count == Host.Length)
                Grow(Count + 1);
            Host[Count++] = value;
        }

        public void AddRange(ReadOnlySpan<T> values)
        {
            if (Count + values.Length > Host.Length)
                Grow(Count + values.Length);
            values.CopyTo(Host.AsSpan(Count));
            Count += values.Length;
        }

        private void Grow(int need)
        {
            var bigger = new T[Math.Max(need, Host.Length * 2)];
            Host.AsSpan(0, Count).CopyTo(bigger);
            Host = bigger;
        }

        public nint Reserve(DeviceContext ctx, int count)
        {
            if (Host.Length < count)
                Host = new T[count];
            if (_device is null || _capacity < count)
            {
                _device?.Dispose();
                _capacity = Math.Max(count, 2 * _capacity);
                _device = ctx.Allocate<T>(_capacity);
            }

            return _device.Address;
        }

        public nint Upload(DeviceContext ctx)
        {
            nint address = Reserve(ctx, Math.Max(1, Count));
            _device!.CopyFrom<T>(Host.AsSpan(0, Count));
            return address;
        }

        public void Download(int count) => _device!.CopyTo<T>(Host.AsSpan(0, count));

        public void Dispose() => _device?.Dispose();
    }
}
