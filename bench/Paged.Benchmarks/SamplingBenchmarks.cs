using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using Paged.Runtime;

namespace Paged.Benchmarks;

/// <summary>
/// Sampling a batch of logit rows (temperature 0.8, top-k 50, top-p 0.9, raw logprob of the chosen
/// token) on the CPU backend: the fused sample op versus the same work as separate passes (softmax,
/// full sort, cumulative sum, draw) in C#. Both single-threaded (a 1-thread context), so the ratio is
/// per-core work; rows/s = Batch / mean time. Filter: --filter '*SamplingBenchmarks*'.
/// </summary>
[MemoryDiagnoser]
public class SamplingBenchmarks : IDisposable
{
    private DeviceContext _ctx = null!;
    private DeviceBuffer _logits = null!;
    private SampleOpBatch _batch = null!;
    private SampleRow[] _rows = [];
    private float[] _host = [];
    private float[] _probs = [];
    private float[] _keys = [];
    private int[] _ids = [];
    private int[] _out = [];
    private long _step;

    [Params(1, 64, 256)]
    public int Batch { get; set; } = 1;

    [Params(32000, 128256)]
    public int Vocab { get; set; } = 32000;

    [GlobalSetup]
    public void Setup()
    {
        _ctx = Backend.Load("cpu").CreateContext(1);
        var rng = new Random(1);
        _host = new float[Batch * Vocab];
        for (int i = 0; i < _host.Length; i++)
        {
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            _host[i] = (float)(2 * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        _logits = _ctx.Upload<float>(_host);
        _batch = new SampleOpBatch(_ctx);
        _probs = new float[Vocab];
        _keys = new float[Vocab];
        _ids = new int[Vocab];
        _out = new int[Batch];
        _rows = Enumerable.Range(0, Batch).Select(i => new SampleRow { Temperature = 0.8f, TopK = 50, TopP = 0.9f, Seed = (ulong)i }).ToArray();
    }

    [Benchmark(Baseline = true)]
    public int Fused()
    {
        _batch.Run(_logits.Address, Vocab, Vocab, _rows);
        return _batch.Tokens[0];
    }

    [Benchmark]
    public int SeparatePasses()
    {
        var rng = new Random((int)_step++);
        for (int r = 0; r < Batch; r++)
        {
            var row = _host.AsSpan(r * Vocab, Vocab);
            var probs = _probs.AsSpan();
            // Pass 1: softmax of logits / T (and the raw log-normalizer for the logprob).
            float lse = TensorPrimitives.Max(row);
            lse += MathF.Log(TensorPrimitives.SumOfMagnitudes(ExpShifted(row, lse)));
            TensorPrimitives.Divide(row, 0.8f, probs);
            TensorPrimitives.SoftMax(probs, probs);
            // Pass 2: full sort, descending.
            for (int j = 0; j < Vocab; j++)
            {
                _keys[j] = -probs[j];
                _ids[j] = j;
            }

            Array.Sort(_keys, _ids);
            // Pass 3: top-k cut, cumulative sum, top-p cut.
            int kept = Math.Min(50, Vocab);
            double total = 0;
            for (int j = 0; j < kept; j++)
                total -= _keys[j];
            double acc = 0;
            int cut = kept;
            for (int j = 0; j < kept; j++)
            {
                acc -= _keys[j];
                if (acc >= 0.9 * total)
                {
                    cut = j + 1;
                    break;
                }
            }

            // Pass 4: draw.
            double massKept = 0;
            for (int j = 0; j < cut; j++)
                massKept -= _keys[j];
            double target = rng.NextDouble() * massKept;
            acc = 0;
            int token = _ids[cut - 1];
            for (int j = 0; j < cut; j++)
            {
                acc -= _keys[j];
                if (acc > target)
                {
                    token = _ids[j];
                    break;
                }
            }

            _out[r] = token + (int)(row[token] - lse); // keep the logprob live
        }

        return _out[0];
    }

    private Span<float> ExpShifted(ReadOnlySpan<float> row, float max)
    {
        var p = _probs.AsSpan(0, row.Length);
        TensorPrimitives.Subtract(row, max, p);
        TensorPrimitives.Exp(p, p);
        return p;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _batch.Dispose();
        _logits.Dispose();
        _ctx.Dispose();
        GC.SuppressFinalize(this);
    }
}
