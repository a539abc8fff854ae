using System.Runtime.InteropServices;

namespace Paged.Models.Weights;

/// <summary>
/// Drops a file from the Linux page cache, so that its next load reads it cold. <c>make-model</c> calls it on the
/// weights it writes: a freshly written file sits in the folios its writes made, which a mapping maps 4 KB at a
/// time (<c>FilePmdMapped: 0</c> for a bf16 110M checkpoint just written: single-stream decode ~6% slower than from
/// the same file loaded cold, which <see cref="MappingAdvice"/> maps in 2 MB folios).
/// </summary>
public static partial class PageCache
{
    private const int FadvDontNeed = 4;

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

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
