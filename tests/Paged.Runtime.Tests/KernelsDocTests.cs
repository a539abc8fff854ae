using System.Diagnostics;
using System.Text.RegularExpressions;
using Paged.Tests.Shared;

namespace Paged.Runtime.Tests;

/// <summary>
/// docs/kernels.md states how many kernel instantiations there are and how many spill to local memory (from
/// tools/ptxas_report.sh). Where the CUDA library was built (nvcc present), this checks the claim against the
/// resource usage ptxas recorded in that freshly built library, read back with cuobjdump: a kernel added or
/// changed without regenerating the page, or one that starts spilling, fails here.
/// </summary>
[TestClass]
public sealed partial class KernelsDocTests
{
    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void Spill_claim_matches_the_built_cuda_library()
    {
        string library = Path.Combine(AppContext.BaseDirectory, "libpaged_cuda.so");
        if (!File.Exists(library))
            Assert.Inconclusive("libpaged_cuda.so is not built (no nvcc)");
        var psi = new ProcessStartInfo("cuobjdump");
        psi.ArgumentList.Add("--dump-resource-usage");
        psi.ArgumentList.Add(library);
        ChildProcess.Result result;
        try
        {
            result = ChildProcess.Run(psi, TimeSpan.FromSeconds(50));
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Inconclusive("cuobjdump (nvidia-cuda-toolkit) is not installed");
            throw;
        }

        Assert.AreEqual(0, result.ExitCode, result.Stderr);
        var usage = ResourceLine().Matches(result.Stdout);
        int kernels = usage.Count;
        int spilling = usage.Count(m => int.Parse(m.Groups["local"].Value) > 0);

        string doc = File.ReadAllText(Path.Combine(ChildProcess.RepositoryRoot(), "docs", "kernels.md"));
        var claim = Claim().Match(doc);
        Assert.IsTrue(claim.Success, "docs/kernels.md has no '**N kernel instantiations, M with local-memory spills.**' line");
        Assert.AreEqual(int.Parse(claim.Groups["kernels"].Value), kernels,
            "kernel instantiations in the built library vs docs/kernels.md: run tools/ptxas_report.sh");
        Assert.AreEqual(int.Parse(claim.Groups["spills"].Value), spilling,
            "kernels using local memory in the built library vs docs/kernels.md: run tools/ptxas_report.sh");
    }

    [GeneratedRegex(@"^\s*REG:\d+ STACK:\d+ SHARED:\d+ LOCAL:(?<local>\d+)", RegexOptions.Multiline)]
    private static partial Regex ResourceLine();

    [GeneratedRegex(@"\*\*(?<kernels>\d+) kernel instantiations, (?<spills>\d+) with local-memory spills\.\*\*")]
    private static partial Regex Claim();
}
