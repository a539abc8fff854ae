using BenchmarkDotNet.Attributes;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Benchmarks;

/// <summary>
/// The CPU backend's matmul (x · wᵀ) at the shapes of the stories110M benchmark model: decode GEMV
/// (M = 1), batched decode (M = 32) and prefill (M = 512). GFLOP/s = 2·M·N·K / mean time.
/// </summary>
[MemoryDiagnoser]
public class MatmulBenchmarks : IDisposable
{
    private DeviceContext _ctx = null!;
    private DeviceBuffer _x = null!, _w = null!, _o = null!;

    [Params("cpu")]
    public string Device { get; set; } = "cpu";

    [Params("1x768x768", "1x32000x768", "32x2048x768", "32x768x2048", "512x768x768", "512x2048x768")]
    public string Shape { get; set; } = "1x768x768";

    private int M => int.Parse(Shape.Split('x')[0], System.Globalization.CultureInfo.InvariantCulture);

    private int N => int.Parse(Shape.Split('x')[1], System.Globalization.CultureInfo.InvariantCulture);

    private int K => int.Parse(Shape.Split('x')[2], System.Globalization.CultureInfo.InvariantCulture);

    [GlobalSetup]
    public void Setup()
    {
        _ctx = Backend.Load(Device).CreateContext();
        var rng = new Random(1);
        float[] Rand(long n) => Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        _x = _ctx.Upload<float>(Rand((long)M * K));
        _w = _ctx.Upload<float>(Rand((long)N * K));
        _o = _ctx.Allocate<float>((long)M * N);
    }

    [Benchmark]
    public void Matmul()
    {
        _ctx.Matmul(new MatmulArgs { Out = _o.Address, X = _x.Address, W = _w.Address, M = M, N = N, K = K, Ldx = K, Ldo = N });
        _ctx.Synchronize();
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _x.Dispose();
        _w.Dispose();
        _o.Dispose();
        _ctx.Dispose();
        GC.SuppressFinalize(this);
    }
}
