using BenchmarkDotNet.Attributes;
using Paged.Runtime;

namespace Paged.Cli;

/// <summary>
/// The BenchmarkDotNet side of <c>paged bench kernels</c>: one benchmark per op, run in-process on the
/// cases the command built (the device context and buffers live in this process).
/// </summary>
public class KernelBenchmark
{
    internal sealed record State(DeviceContext Context, IReadOnlyDictionary<string, Action> Cases);

    internal static State? Session { get; set; }

    private Action _run = () => { };

    public static IEnumerable<string> Kernels => Session?.Cases.Keys ?? [];

    [ParamsSource(nameof(Kernels))]
    public string Kernel { get; set; } = "";

    [GlobalSetup]
    public void Setup() => _run = Session!.Cases[Kernel];

    /// <summary>One launch, waited for (on a GPU the launch is asynchronous).</summary>
    [Benchmark]
    public void Launch()
    {
        _run();
        Session!.Context.Synchronize();
    }
}
