using System.Runtime.InteropServices;

namespace Paged.Models.Weights;

/// <summary>
/// What a weight file's mapping asks of the Linux kernel. The CPU backend streams the weights straight from the
/// mapping every decode step, so how the kernel maps the file's pages sets the TLB reach: a file faulted in 4 KB
/// pieces costs a page walk every 4 KB, one held in 2 MB folios mapped by PMD entries one per 2 MB. Two advices at
/// open make a cold-loaded model the second kind:
/// <list type="bullet">
/// <item><c>MADV_HUGEPAGE</c>: faults on the mapping read the file in 2 MB folios and map them whole.</item>
/// <item><c>MADV_POPULATE_READ</c> (Linux 5.14): faults the whole file in now, in file order, rather than in the
/// order of the first step's reads (which left a bf16 110M checkpoint 39 of 214 MB PMD-mapped; populated, all of it;
/// docs/benchmarks.md). It reads the file once at load, as llama.cpp's MAP_POPULATE does.</item>
/// </list>
/// A file already cached in small pages stays as it is (the kernel does not collapse file folios here); a kernel
/// that refuses an advice leaves the mapping working as before.
/// </summary>
internal static partial class MappingAdvice
{
    private const int MadvHugePage = 14;
    private const int MadvPopulateRead = 22;

    /// <summary>Advises [address, address + length) (address page-aligned); returns which advices the kernel took.</summary>
    public static (bool HugePages, bool Populated) Apply(nint address, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
            return (false, false);
        bool huge = Madvise(address, (nuint)length, MadvHugePage) == 0;
        bool populated = Madvise(address, (nuint)length, MadvPopulateRead) == 0;
        return (huge, populated);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}
