using System.Diagnostics;
using System.Globalization;

namespace Paged.Models.Tests.Fuzzing;

/// <summary>
/// Seeded mutation fuzzing of every parser of untrusted files (llama2.c checkpoints, tokenizer.bin, GGUF):
/// thousands of mutated files per format, each of which may only be refused with
/// <see cref="ModelFormatException"/> (or accepted), and may allocate only a bounded amount of memory.
/// Budget per format: <see cref="FuzzSettings.Cases"/> cases or <see cref="FuzzSettings.Seconds"/> seconds,
/// whichever comes first (PAGED_FUZZ_CASES, PAGED_FUZZ_SECONDS); the seed is fixed (PAGED_FUZZ_SEED overrides
/// it) and case i is generated from (seed, i) alone, so a reported failure replays exactly.
/// </summary>
[TestClass]
public sealed class ParserFuzzTests
{
    /// <summary>The time budget is capped below the test's timeout; longer runs use tools/fuzz.</summary>
    private const double MaxSeconds = 100;

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    [DataRow("llama2c")]
    [DataRow("tokenizer")]
    [DataRow("gguf")]
    public void Mutated_files_are_refused_only_with_ModelFormatException(string format)
    {
        var settings = FuzzSettings.FromEnvironment();
        using var dir = new TempDir();
        var seeds = FuzzSeeds.For(format, dir);
        foreach (var s in seeds)
        {
            // The seeds themselves are valid: every stage accepts them.
            string seedPath = dir.File("seed-" + s.Name);
            File.WriteAllBytes(seedPath, s.Bytes);
            Assert.IsGreaterThan(0, FuzzTargets.Run(format, seedPath), $"seed {s.Name} is not accepted");
        }

        string path = dir.File("case." + format);
        var clock = Stopwatch.StartNew();
        double seconds = Math.Min(settings.Seconds, MaxSeconds);
        int cases = 0, accepted = 0, slowest = -1;
        double slowestMs = 0;
        long maxAllocated = 0;
        for (; cases < settings.Cases && clock.Elapsed.TotalSeconds < seconds; cases++)
        {
            TestContext.CancellationToken.ThrowIfCancellationRequested();
            var random = new Random(unchecked((settings.Seed * 1_000_003) + cases));
            var seed = seeds[random.Next(seeds.Count)];
            var (bytes, what) = Mutator.Mutate(seed.Bytes, seed.HeaderBytes, random);
            File.WriteAllBytes(path, bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            long started = Stopwatch.GetTimestamp();
            try
            {
                accepted += FuzzTargets.Run(format, path) > 0 ? 1 : 0;
            }
            catch (Exception e)
            {
                Assert.Fail(Report(format, settings, cases, seed, what, bytes, $"threw {e.GetType().Name} instead of ModelFormatException: {e}"));
            }

            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (ms > slowestMs)
                (slowestMs, slowest) = (ms, cases);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            maxAllocated = Math.Max(maxAllocated, allocated);
            long cap = FuzzSettings.AllocationCap(bytes.Length);
            if (allocated > cap)
                Assert.Fail(Report(format, settings, cases, seed, what, bytes, $"allocated {allocated} bytes, above the cap {cap} for a {bytes.Length}-byte file"));
        }

        TestContext.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{format}: {cases} cases in {clock.Elapsed.TotalSeconds:F1} s (seed {settings.Seed}), {accepted} accepted at some stage, max allocation {maxAllocated / 1024} KiB, slowest case {slowest} ({slowestMs:F0} ms)"));
        Assert.IsGreaterThanOrEqualTo(Math.Min(settings.Cases, FuzzSettings.MinimumCases), cases, "too few cases ran in the time budget");
    }

    private static string Report(string format, FuzzSettings settings, int index, FuzzSeed seed, string what, byte[] bytes, string problem)
    {
        string saved = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"paged-fuzz-{format}-{settings.Seed}-{index}.bin"));
        File.WriteAllBytes(saved, bytes);
        return string.Create(CultureInfo.InvariantCulture,
            $"{format} case {index} (PAGED_FUZZ_SEED={settings.Seed}; seed file {seed.Name}; mutations: {what}; input saved to {saved}) {problem}");
    }
}

/// <summary>Fuzzing budget and seed, from the environment with fixed defaults.</summary>
internal sealed record FuzzSettings(int Seed, int Cases, double Seconds)
{
    public const int DefaultSeed = 20261128;

    /// <summary>
    /// Fewer than this many cases in the time budget fails the test (a machine too slow to fuzz). An idle 2-core
    /// machine runs all 3000 of each format in a few seconds; this floor only tolerates a heavily shared one.
    /// </summary>
    public const int MinimumCases = 500;

    public static FuzzSettings FromEnvironment() => new(
        Read("PAGED_FUZZ_SEED", DefaultSeed), Read("PAGED_FUZZ_CASES", 3000), Read("PAGED_FUZZ_SECONDS", 30));

    /// <summary>
    /// Parsing may allocate a constant (tokenizer tables, buffers) plus a small multiple of the file's size
    /// (fp32 copies of f16/q8_0 data are up to 4x, boxed metadata values more); a header that makes the
    /// loader allocate by what it claims rather than by what the file holds exceeds this.
    /// </summary>
    public static long AllocationCap(long fileBytes) => (48L << 20) + (64 * fileBytes);

    private static int Read(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : fallback;
}
