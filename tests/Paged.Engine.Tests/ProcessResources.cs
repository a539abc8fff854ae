using System.Globalization;
using Paged.Runtime;

namespace Paged.Engine.Tests;

/// <summary>
/// What this process holds at one moment: resident memory (VmRSS), open file descriptors, OS threads
/// (from /proc/self), and the native handles the runtime counts (<see cref="LiveHandles"/>).
/// </summary>
internal readonly record struct ProcessResources(long RssBytes, int OpenFds, int Threads, long Contexts, long Allocations, long AllocatedBytes)
{
    public static bool Supported => Directory.Exists("/proc/self/task");

    public static ProcessResources Take() => new(
        ReadRssBytes(),
        Directory.GetFileSystemEntries("/proc/self/fd").Length,
        Directory.GetDirectories("/proc/self/task").Length,
        LiveHandles.Contexts,
        LiveHandles.Allocations,
        LiveHandles.Bytes);

    /// <summary>
    /// Releases what the runtime keeps for later without it being a leak: garbage (collected, its
    /// finalizers run) and the .NET thread pool's idle workers are not waited for here; the caller's
    /// slack covers them.
    /// </summary>
    public static ProcessResources TakeSettled()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return Take();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"rss {RssBytes / (1 << 20)} MiB, {OpenFds} fds, {Threads} threads, {Contexts} contexts, {Allocations} buffers ({AllocatedBytes} bytes)");

    private static long ReadRssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                // "VmRSS:    123456 kB"
                string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("/proc/self/status has no VmRSS line");
    }
}
