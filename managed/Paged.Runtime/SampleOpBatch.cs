using System.Runtime.InteropServices;
using Paged.Runtime.Interop;

namespace Paged.Runtime;

/// <summary>One row's sampling parameters for <see cref="SampleOpBatch"/> (see pg_sample_args in paged.h).</summary>
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

    /// <summary>Compute the chosen token's rank (<see cref="SampleOpBatch.Ranks"/>): the row reports logprobs.</summary>
    public bool Rank { get; init; }

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
public sealed unsafe class SampleOpBatch : IDisposable
{
    private readonly DeviceContext _ctx;
    private readonly Column<float> _temperature = new(), _topP = new(), _minP = new(), _rep = new(), _freq = new(), _pres = new(), _biasValues = new();
    private readonly Column<int> _topK = new(), _minTokens = new(), _numLogprobs = new();
    private readonly Column<ulong> _seeds = new();
    private readonly Column<long> _steps = new();
    private readonly Column<uint> _flags = new();
    private readonly Column<int> _prompt = new(), _promptOff = new(), _output = new(), _outputOff = new(), _stop = new(), _stopOff = new(), _biasIds = new(), _biasOff = new();
    private readonly StagingBuffer _inputs;
    private DeviceBuffer? _outputs;
    private byte[] _results = [];
    private int _statusAt, _logprobsAt, _topIdsAt, _topLogprobsAt, _ranksAt;
    private bool _disposed;

    public SampleOpBatch(DeviceContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _ctx = context;
        _inputs = new StagingBuffer(context);
    }

    public int NumRows { get; private set; }

    /// <summary>Chosen token per row (-1 where the status is not Ok).</summary>
    public ReadOnlySpan<int> Tokens => Result<int>(0, NumRows);

    public ReadOnlySpan<float> Logprobs => Result<float>(_logprobsAt, NumRows);

    /// <summary>The chosen token's rank per row (rows with <see cref="SampleRow.Rank"/>; 0 for the others).</summary>
    public ReadOnlySpan<int> Ranks => Result<int>(_ranksAt, NumRows);

    public ReadOnlySpan<SampleRowStatus> Status => MemoryMarshal.Cast<int, SampleRowStatus>(Result<int>(_statusAt, NumRows));

    /// <summary>Top-N ids of row <paramref name="row"/> (its NumLogprobs entries).</summary>
    public ReadOnlySpan<int> TopIds(int row, int count) => Result<int>(_topIdsAt, NumRows * SampleLimits.MaxLogprobs).Slice(row * SampleLimits.MaxLogprobs, count);

    public ReadOnlySpan<float> TopLogprobs(int row, int count) => Result<float>(_topLogprobsAt, NumRows * SampleLimits.MaxLogprobs).Slice(row * SampleLimits.MaxLogprobs, count);

    private ReadOnlySpan<T> Result<T>(int byteOffset, int count) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(_results.AsSpan(byteOffset, count * sizeof(T)));

    /// <summary>Samples one token from each of <paramref name="rows"/>.Count rows of <paramref name="logits"/> (device f32, row stride <paramref name="rowStride"/>).</summary>
    public void Run(nint logits, int vocabSize, int rowStride, IReadOnlyList<SampleRow> rows)
    {
        _inputs.Clear();
        Stage(_inputs, rows);
        _inputs.Flush();
        RunStaged(logits, vocabSize, rowStride);
    }

    // Staged offsets of the inputs (-1: the optional array is absent); valid until the next Stage.
    private long _temperatureAt, _topKAt, _topPAt, _minPAt, _repAt, _freqAt, _presAt, _minTokensAt, _seedsAt, _stepsAt, _flagsAt, _numLogprobsAt;
    private long _promptAt, _promptOffAt, _outputAt, _outputOffAt, _stopAt, _stopOffAt, _biasIdsAt, _biasValuesAt, _biasOffAt;
    private bool _anyLogprobs;
    private StagingBuffer? _staged;

    /// <summary>
    /// First half of <see cref="Run"/> for a caller that packs a whole step into one upload: builds the
    /// per-row columns and stages them into <paramref name="staging"/>. After the caller's
    /// <see cref="StagingBuffer.Flush"/>, <see cref="RunStaged"/> samples.
    /// </summary>
    public void Stage(StagingBuffer staging, IReadOnlyList<SampleRow> rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(staging);
        ArgumentNullException.ThrowIfNull(rows);
        int n = rows.Count;
        NumRows = n;
        _staged = null;
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
            _flags.Add((uint)((r.Seeded ? SampleOptions.Seeded : 0) | (r.ProcessedLogprobs ? SampleOptions.ProcessedLogprobs : 0) | (r.Rank ? SampleOptions.Rank : 0)));
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

        var st = staging;
        _temperatureAt = _temperature.Stage(st);
        _topKAt = _topK.Stage(st);
        _topPAt = _topP.Stage(st);
        _minPAt = _minP.Stage(st);
        _repAt = _rep.Stage(st);
        _freqAt = _freq.Stage(st);
        _presAt = _pres.Stage(st);
        _minTokensAt = _minTokens.Stage(st);
        _seedsAt = _seeds.Stage(st);
        _stepsAt = _steps.Stage(st);
        _flagsAt = _flags.Stage(st);
        _numLogprobsAt = _numLogprobs.Stage(st);
        _promptAt = anyHistory ? _prompt.Stage(st) : -1;
        _promptOffAt = anyHistory ? _promptOff.Stage(st) : -1;
        _outputAt = anyHistory ? _output.Stage(st) : -1;
        _outputOffAt = anyHistory ? _outputOff.Stage(st) : -1;
        _stopAt = anyStop ? _stop.Stage(st) : -1;
        _stopOffAt = anyStop ? _stopOff.Stage(st) : -1;
        _biasIdsAt = anyBias ? _biasIds.Stage(st) : -1;
        _biasValuesAt = anyBias ? _biasValues.Stage(st) : -1;
        _biasOffAt = anyBias ? _biasOff.Stage(st) : -1;
        _anyLogprobs = anyLogprobs;
        _staged = staging;
    }

    /// <summary>Second half of <see cref="Run"/>: the sample op over the staged (and flushed) rows, then one read-back.</summary>
    public void RunStaged(nint logits, int vocabSize, int rowStride)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = NumRows;
        if (n == 0)
            return;
        var st = _staged ?? throw new InvalidOperationException("RunStaged needs Stage (and the staging buffer's Flush) first");
        bool anyLogprobs = _anyLogprobs;

        // Outputs: one device block [tokens | status | logprobs | ranks | top ids | top logprobs], read back
        // in one copy (the step's one wait).
        int topCount = anyLogprobs ? n * SampleLimits.MaxLogprobs : 0;
        _statusAt = 4 * n;
        _logprobsAt = 8 * n;
        _ranksAt = 12 * n;
        _topIdsAt = 16 * n;
        _topLogprobsAt = _topIdsAt + (4 * topCount);
        int resultBytes = _topLogprobsAt + (4 * topCount);
        if (_outputs is null || _outputs.Bytes < resultBytes)
        {
            _outputs?.Dispose();
            _outputs = _ctx.Allocate(Math.Max(resultBytes, 2 * (_outputs?.Bytes ?? 0)));
        }

        if (_results.Length < resultBytes)
            _results = new byte[Math.Max(resultBytes, 2 * _results.Length)];

        nint At(long offset) => offset < 0 ? 0 : st.Address(offset);
        nint outputs = _outputs.Address;

        var args = new SampleArgs
        {
            OutTokens = outputs,
            OutLogprobs = outputs + _logprobsAt,
            OutStatus = outputs + _statusAt,
            OutRanks = outputs + _ranksAt,
            OutTopIds = anyLogprobs ? outputs + _topIdsAt : 0,
            OutTopLogprobs = anyLogprobs ? outputs + _topLogprobsAt : 0,
            Logits = logits,
            Temperature = At(_temperatureAt),
            TopK = At(_topKAt),
            TopP = At(_topPAt),
            MinP = At(_minPAt),
            RepetitionPenalty = At(_repAt),
            FrequencyPenalty = At(_freqAt),
            PresencePenalty = At(_presAt),
            MinTokens = At(_minTokensAt),
            Seeds = At(_seedsAt),
            Steps = At(_stepsAt),
            Flags = At(_flagsAt),
            NumLogprobs = At(_numLogprobsAt),
            PromptTokens = At(_promptAt),
            PromptOffsets = At(_promptOffAt),
            OutputTokens = At(_outputAt),
            OutputOffsets = At(_outputOffAt),
            StopIds = At(_stopAt),
            StopOffsets = At(_stopOffAt),
            BiasIds = At(_biasIdsAt),
            BiasValues = At(_biasValuesAt),
            BiasOffsets = At(_biasOffAt),
            NumRows = n,
            VocabSize = vocabSize,
            RowStride = rowStride,
            DType = DType.F32,
        };
        _ctx.Sample(args);
        _outputs.CopyTo<byte>(_results.AsSpan(0, resultBytes));
    }

    public void Dispose()
    {
        _disposed = true;
        _inputs.Dispose();
        _outputs?.Dispose();
    }

    private interface IClearable
    {
        void Clear();
    }

    /// <summary>A growable host array, staged into the step's packed upload.</summary>
    private sealed class Column<T> : IClearable where T : unmanaged
    {
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

        public long Stage(StagingBuffer staging) => staging.Stage<T>(Host.AsSpan(0, Count));
    }
}
