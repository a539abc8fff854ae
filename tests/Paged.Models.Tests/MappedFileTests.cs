using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Paged.Models.Weights;

namespace Paged.Models.Tests;

/// <summary>
/// A weight file's mapping is advised to huge pages and populated at open on Linux (<see cref="PageCache.AdviseMapping"/>):
/// checked against what the kernel reports for the mapping in /proc/self/smaps, not against the flags alone. And
/// <see cref="PageCache.Evict"/> (make-model's written weights) leaves none of a file's pages cached (mincore).
/// </summary>
[TestClass]
public sealed partial class MappedFileTests
{
    [TestMethod]
    public void Evict_drops_a_just_written_file_from_the_page_cache()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("page-cache eviction is Linux only");
        // Beside the test assembly, on the build disk: a tmpfs file (/tmp on some machines) cannot be dropped.
        string path = Path.Combine(AppContext.BaseDirectory, $"paged-evict-{Guid.NewGuid():N}.bin");
        var bytes = new byte[1 << 20];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        try
        {
            Assert.AreEqual(256, ResidentPages(path), "a just-written file is in the page cache");
            Assert.IsTrue(PageCache.Evict(path));
            Assert.AreEqual(0, ResidentPages(path), "evicted: the next load reads it from disk");
            CollectionAssert.AreEqual(bytes, File.ReadAllBytes(path), "the content is on disk");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Mapping_is_advised_to_huge_pages_and_populated_at_open()
    {
        if (!OperatingSystem.IsLinux())
            Assert.Inconclusive("madvise advice is Linux only");
        // MADV_POPULATE_READ is Linux 5.14; MADV_HUGEPAGE needs a kernel with transparent huge pages.
        bool thp = Directory.Exists("/sys/kernel/mm/transparent_hugepage");
        bool populateKnown = Environment.OSVersion.Version >= new Version(5, 14);

        string path = Path.Combine(Path.GetTempPath(), $"paged-mapped-{Guid.NewGuid():N}.bin");
        var bytes = new byte[(5 << 20) + 123]; // 5 MB and a partial page
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        try
        {
            using var file = MappedFile.Open(path);
            var (flags, rssKb) = Vma(file.AddressOf(0));

            Assert.AreEqual(thp, file.HugePagesAdvised, "MADV_HUGEPAGE taken where the kernel has THP");
            Assert.AreEqual(file.HugePagesAdvised, flags.Contains("hg", StringComparer.Ordinal), $"VmFlags: {string.Join(' ', flags)}");
            if (populateKnown)
                Assert.IsTrue(file.Populated, "MADV_POPULATE_READ taken on Linux >= 5.14");
            if (file.Populated)
                Assert.AreEqual((bytes.Length + 4095) / 4096 * 4L, rssKb, "every page of the file is mapped before anything reads it");
            Assert.IsTrue(file.Span(bytes.Length - 1000, 1000).SequenceEqual(bytes.AsSpan(bytes.Length - 1000)), "the bytes read back");
        }
        finally
        {
            File.Delete(path);
        }
    }

    // How many of the file's 4 KB pages the page cache holds (mincore over a plain mapping, which faults nothing in).
    private static unsafe int ResidentPages(string path)
    {
        using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        try
        {
            long length = new FileInfo(path).Length;
            var vec = new byte[(length + 4095) / 4096];
            fixed (byte* v = vec)
                Assert.AreEqual(0, Mincore((nint)p, (nuint)length, v), "mincore");
            return vec.Count(b => (b & 1) != 0);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    [LibraryImport("libc", EntryPoint = "mincore")]
    private static unsafe partial int Mincore(nint address, nuint length, byte* vec);

    // The VmFlags and Rss (kB) of the mapping that holds address, from /proc/self/smaps.
    private static (string[] Flags, long RssKb) Vma(nint address)
    {
        ulong a = (ulong)address;
        bool inside = false;
        long rss = -1;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && ulong.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong lo)
                && ulong.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong hi))
            {
                inside = lo <= a && a < hi;
                continue;
            }

            if (!inside)
                continue;
            if (line.StartsWith("Rss:", StringComparison.Ordinal))
                rss = long.Parse(line.AsSpan(4).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
            else if (line.StartsWith("VmFlags:", StringComparison.Ordinal))
                return (line[8..].Split(' ', StringSplitOptions.RemoveEmptyEntries), rss);
        }

        throw new InvalidOperationException($"no mapping holds 0x{a:x} in /proc/self/smaps");
    }
}
