using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Paged.Runtime.Tests;

/// <summary>
/// The SIMT emulator's own checks, run as the native test programs the CMake build puts in
/// build/native: planted kernel bugs are caught, the kernel grid (all dtypes, head sizes, block sizes,
/// GQA ratios, split-K on and off) passes under every fiber schedule, decode attention's loads are
/// coalesced, and no file launches kernels or declares dynamic shared memory outside the launch helper.
/// </summary>
[TestClass]
public sealed partial class SimtEmulatorTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    private static string NativeProgram(string name)
    {
        string path = Path.Combine(RepoRoot, "build", "native", name);
        if (!File.Exists(path))
            Assert.Inconclusive($"{path} is not built (run cmake --build build)");
        return path;
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string program, string? arg = null, string? schedule = null)
    {
        var psi = new ProcessStartInfo(NativeProgram(program))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (arg is not null)
            psi.ArgumentList.Add(arg);
        if (schedule is not null)
            psi.Environment["PAGED_SIMT_SCHEDULE"] = schedule;
        psi.Environment.Remove("PAGED_CUDA_PARTITION_SIZE");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [TestMethod]
    public void PlantedBugs_AreCaughtWithSourceLines()
    {
        var r = Run("paged_simt_selftest");
        Assert.AreEqual(0, r.ExitCode, r.Stdout + r.Stderr);
        StringAssert.Contains(r.Stdout, "ALL OK");
        StringAssert.Contains(r.Stdout, "missing __syncthreads caught");
        StringAssert.Contains(r.Stdout, "divergent shuffle caught");
        StringAssert.Contains(r.Stdout, "divergent __syncthreads: block (0,0,0) thread (0,0,0) waits at selftest.cpp:");
    }

    [TestMethod]
    public void OutOfBoundsWrite_StopsWithTheKernelBlockAndThread()
    {
        var r = Run("paged_simt_selftest", "oob");
        Assert.AreEqual(86, r.ExitCode, r.Stdout + r.Stderr);
        StringAssert.Contains(r.Stderr, "kernel out_of_bounds: out-of-bounds access");
        StringAssert.Contains(r.Stderr, "block (7,0,0) thread (104,0,0)");
    }

    [TestMethod]
    [DataRow("forward")]
    [DataRow("reverse")]
    [DataRow("random:17")]
    public void KernelGrid_PassesUnderSchedule(string schedule)
    {
        var r = Run("paged_simt_kernel_tests", "grid", schedule);
        Assert.AreEqual(0, r.ExitCode, r.Stdout + r.Stderr);
        StringAssert.Contains(r.Stdout, " passed, 0 failed");
    }

    [TestMethod]
    public void DecodeAttention_KvLoadsAreCoalesced()
    {
        var r = Run("paged_simt_kernel_tests", "coalescing");
        Assert.AreEqual(0, r.ExitCode, r.Stdout + r.Stderr);
        StringAssert.Contains(r.Stdout, "| decode_attention |");
        StringAssert.Contains(r.Stdout, "coalescing gate (decode attention K/V loads <= 1.5x ideal): pass");
    }

    [TestMethod]
    public void Lint_NoLaunchOrDynamicSharedOutsideTheHelper()
    {
        string helper = Path.Combine(RepoRoot, "native", "cuda", "launch.cuh");
        var offenders = new List<string>();
        foreach (string file in Directory.EnumerateFiles(Path.Combine(RepoRoot, "native"), "*", SearchOption.AllDirectories))
        {
            if (file == helper || !SourceExtension().IsMatch(file))
                continue;
            int line = 0;
            foreach (string text in File.ReadLines(file))
            {
                line++;
                if (text.Contains("<<<", StringComparison.Ordinal) || ExternShared().IsMatch(text))
                    offenders.Add($"{Path.GetRelativePath(RepoRoot, file)}:{line}: {text.Trim()}");
            }
        }

        Assert.IsEmpty(offenders, "kernel launches (<<<) and `extern __shared__` belong in native/cuda/launch.cuh only:\n" + string.Join('\n', offenders));
    }

    [GeneratedRegex(@"\.(cu|cuh|h|hpp|cpp|cc|c)$")]
    private static partial Regex SourceExtension();

    [GeneratedRegex(@"extern\s+__shared__")]
    private static partial Regex ExternShared();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
                return dir.FullName;
        }

        throw new DirectoryNotFoundException($"no Kernels.sln above {AppContext.BaseDirectory}");
    }
}
