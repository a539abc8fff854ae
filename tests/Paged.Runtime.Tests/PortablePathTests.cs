using System.Diagnostics;
using System.Reflection;
using Paged.Tests.Shared;

namespace Paged.Runtime.Tests;

/// <summary>
/// Code paths a plain run skips on an AVX2 machine: the native CPU self-check (AVX2 vs portable kernels,
/// 1 vs 2 threads, odd head sizes), and every CPU op test again with PAGED_CPU_NO_AVX2=1 and with
/// PAGED_CPU_NO_AVX512=1 in a child process, so that the portable and the AVX2 GEMM, dot product and attention
/// are checked against the same references as the default (AVX-512 where the CPU has it) path.
/// </summary>
[TestClass]
public sealed class PortablePathTests
{
    /// <summary>Set in the child run: only these backends run there (the others report inconclusive).</summary>
    internal const string OnlyBackendsVariable = "PAGED_TEST_BACKENDS";

    private const string PortableVariable = "PAGED_CPU_NO_AVX2";
    private const string NoAvx512Variable = "PAGED_CPU_NO_AVX512";

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void Native_selfcheck_passes()
    {
        string exe = Path.Combine(Environment.GetEnvironmentVariable(Backend.NativeDirVariable) is { Length: > 0 } dir
            ? dir : Path.Combine(ChildProcess.RepositoryRoot(), "build", "native"), "paged_cpu_selfcheck");
        if (!File.Exists(exe))
            Assert.Inconclusive($"{exe} is not built (cmake --build build --target paged_cpu_selfcheck)");
        // The executable's RUNPATH names the directory it was built in; the library beside it is the one to check.
        var psi = new ProcessStartInfo(exe);
        psi.Environment["LD_LIBRARY_PATH"] = Path.GetDirectoryName(exe);
        var result = ChildProcess.Run(psi, TimeSpan.FromSeconds(50));
        Assert.AreEqual(0, result.ExitCode, $"paged_cpu_selfcheck failed:\n{result.Stdout}\n{result.Stderr}");
        StringAssert.Contains(result.Stdout, "ALL OK");
        StringAssert.Contains(result.Stdout, "generic", "the self-check compares the portable kernels too");
    }

    [TestMethod]
    [Timeout(240_000, CooperativeCancellation = true)]
    public void Cpu_op_tests_pass_on_the_portable_path() => RunOpTestsWith(PortableVariable);

    [TestMethod]
    [Timeout(240_000, CooperativeCancellation = true)]
    public void Cpu_op_tests_pass_on_the_avx2_path()
    {
        if (!Backends.Context("cpu").DeviceName.Contains("avx512", StringComparison.Ordinal))
            Assert.Inconclusive("the default CPU path is not AVX-512 here: the plain run already checks AVX2 (or the portable path)");
        RunOpTestsWith(NoAvx512Variable);
    }

    private static void RunOpTestsWith(string variable)
    {
        if (Environment.GetEnvironmentVariable(PortableVariable) is { Length: > 0 } || Environment.GetEnvironmentVariable(NoAvx512Variable) is { Length: > 0 })
            Assert.Inconclusive("already a rerun with a kernel path forced");
        if (!Backend.IsAvailable("cpu"))
            Assert.Inconclusive("libpaged_cpu.so is not built");
        // Every op test class, less the statistical draw test (minutes of sampling; the portable sampling
        // kernels are still checked by the logprob, greedy, penalty and seed tests).
        string filter = "(" + string.Join('|', new[]
        {
            nameof(ElementwiseOpTests), nameof(MatmulTests), nameof(RopeTests), nameof(PagedAttentionTests), nameof(SamplingOpTests),
            nameof(LoraOpTests), nameof(LoraSlotOpTests), nameof(SampleRankTests),
            nameof(LongContextAttentionTests), nameof(PortablePathTests) + "." + nameof(Cpu_context_uses_the_path_the_environment_asks_for),
        }.Select(c => "FullyQualifiedName~" + c)) + ")&FullyQualifiedName!~Draws_MatchTheFilteredDistribution";
        var result = ChildProcess.RunTestsAgain(Assembly.GetExecutingAssembly().Location, filter,
            new Dictionary<string, string> { [variable] = "1", [OnlyBackendsVariable] = "cpu" }, TimeSpan.FromSeconds(220));
        string output = ChildProcess.Tail(result.Stdout + result.Stderr, 8000);
        Assert.AreEqual(0, result.ExitCode, $"op tests failed with {variable}=1:\n{output}");
        StringAssert.Contains(result.Stdout, "failed: 0", output);
        StringAssert.Contains(result.Stdout, "passed Cpu_context_uses_the_path_the_environment_asks_for", output);
        Console.WriteLine($"op tests with {variable}=1: {result.Elapsed.TotalSeconds:F1} s\n{ChildProcess.Tail(result.Stdout, 400)}");
    }

    [TestMethod]
    public void Cpu_context_uses_the_path_the_environment_asks_for()
    {
        var ctx = Backends.Context("cpu");
        bool portable = Environment.GetEnvironmentVariable(PortableVariable) is { Length: > 0 } v && v != "0";
        bool noAvx512 = Environment.GetEnvironmentVariable(NoAvx512Variable) is { Length: > 0 } v2 && v2 != "0";
        if (portable)
            StringAssert.Contains(ctx.DeviceName, "generic", $"PAGED_CPU_NO_AVX2=1 must select the portable kernels ({ctx.DeviceName})");
        else if (noAvx512)
            Assert.IsFalse(ctx.DeviceName.Contains("avx512", StringComparison.Ordinal), $"PAGED_CPU_NO_AVX512=1 must keep the AVX-512 kernels off ({ctx.DeviceName})");
        else if (!ctx.DeviceName.Contains("avx2", StringComparison.Ordinal))
            Assert.Inconclusive($"this CPU has no AVX2/FMA: the default path is already the portable one ({ctx.DeviceName})");
    }
}
