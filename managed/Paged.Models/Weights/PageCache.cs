using System.Runtime.InteropServices;

namespace Paged.Models.Weights;

/// <summary>
/// How a weight file sits in the Linux page cache. The CPU backend streams the weights straight from the mapped file
/// every decode step, so how the kernel maps the file's pages sets the TLB reach: a file faulted in 4 KB pieces costs
/// a page walk every 4 KB, one held in 2 MB folios mapped by PMD entries one per 2 MB.
/// <list type="bullet">
/// <item><see cref="AdviseMapping"/> (every <see cref="MappedFile"/>): <c>MADV_HUGEPAGE</c> (faults read the file in
/// 2 MB folios and map them whole) and <c>MADV_POPULATE_READ</c> (Linux 5.14: fault the whole file in at open, in file
/// order, rather than in the order of the first step's reads, which left a bf16 110M checkpoint 39 of 214 MB
/// PMD-mapped; populated, all of it; docs/benchmarks.md). It reads the file once at load, as llama.cpp's MAP_POPULATE
/// does.</item>
/// <item><see cref="Evict"/> (make-model's written weights): a freshly written file sits in the folios its writes made,
/// which a mapping maps 4 KB at a time (<c>FilePmdMapped: 0</c>: bf16 110M decode ~6% slower); evicted, it loads
/// cold.</item>
/// </list>
/// A file already cached in small pages stays as it is (the kernel does not collapse file folios here); a kernel that
/// refuses an advice leaves everything working as before.
/// </summary>
public static partial class PageCache
{
    private const int MadvHugePage = 14;
    private const int MadvPopulateRead = 22;
    private const int FadvDontNeed = 4;

    /// <summary>Advises the mapping [address, address + length) (address page-aligned); returns which advices the kernel took.</summary>
    internal static (bool HugePages, bool Populated) AdviseMapping(nint address, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
            return (false, false);
        bool huge = Madvise(address, (nuint)length, MadvHugePage) == 0;
        bool populated = Madvise(address, (nuint)length, MadvPopulateRead) == 0;
        return (huge, populated);
    }

    /// <summary>Writes the file's dirty pages to disk, then drops its cached pages; false where that is not possible.</summary>
    public static bool Evict(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!OperatingSystem.IsLinux())
            return false;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        int fd = (int)handle.DangerousGetHandle();
        // Dirty pages are not dropped, only queued for writeback: write them first.
        return Fsync(fd) == 0 && PosixFadvise(fd, 0, 0, FadvDontNeed) == 0;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
