using System.Reflection;
using Paged.Tests.Shared;

namespace Paged.Engine.Tests;

/// <summary>
/// The stories260K golden tests and the random-model reference checks once more on the CPU backend's portable
/// kernels (PAGED_CPU_NO_AVX2=1, in a child process: the choice is made when a context is created, from the
/// environment), so that CI on an AVX2 machine also checks the path other CPUs take.
/// </summary>
[TestClass]
public sealed class PortablePathTests
{
    [TestMethod]
    [Timeout(240_000, CooperativeCancellation = true)]
    public void Golden_and_reference_checks_pass_on_the_portable_cpu_path()
    {
        if (Environment.GetEnvironmentVariable("PAGED_CPU_NO_AVX2") is { Length: > 0 })
            Assert.Inconclusive("already the portable run");
        string filter = $"FullyQualifiedName~{nameof(GoldenTests)}.{nameof(GoldenTests.Greedy_ReproducesReference)}"
            + $"|FullyQualifiedName~{nameof(RandomModelForwardTests)}";
        var result = ChildProcess.RunTestsAgain(Assembly.GetExecutingAssembly().Location, filter,
            new Dictionary<string, string> { ["PAGED_CPU_NO_AVX2"] = "1" }, TimeSpan.FromSeconds(220));
        string output = ChildProcess.Tail(result.Stdout + result.Stderr, 8000);
        Assert.AreEqual(0, result.ExitCode, $"failed on the portable path:\n{output}");
        StringAssert.Contains(result.Stdout, "failed: 0", output);
        StringAssert.Contains(result.Stdout, "on cpu (generic", "the golden test ran on the portable kernels:\n" + output);
        Console.WriteLine($"portable golden and reference checks: {result.Elapsed.TotalSeconds:F1} s");
    }
}
