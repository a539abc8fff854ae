using System.Globalization;
using CsCheck;

namespace Paged.Engine.Tests;

/// <summary>
/// Deterministic CsCheck sampling. CsCheck's own <c>seed</c> argument fixes only the first iteration (the rest
/// are drawn from the clock), so every run of a property test would try different cases. Here case i runs
/// alone from a CsCheck seed derived from (base seed, i): the cases are the same on every run, CsCheck still
/// shrinks a failure and prints the seed that replays it, and PAGED_PROPERTY_SEED picks another base.
/// </summary>
internal static class PropertySeeds
{
    public const ulong DefaultBaseSeed = 20261128;

    private const string Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";

    public static ulong BaseSeed =>
        ulong.TryParse(Environment.GetEnvironmentVariable("PAGED_PROPERTY_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong s)
            ? s : DefaultBaseSeed;

    /// <summary>Runs <paramref name="iterations"/> deterministic cases of <paramref name="gen"/>, two at a time, until cancelled.</summary>
    public static void Sample<T>(Gen<T> gen, Action<T> property, int iterations, CancellationToken cancellation)
    {
        ulong baseSeed = BaseSeed;
        Parallel.For(0, iterations, new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellation },
            i => gen.Sample(property, seed: SeedFor(baseSeed, i), iter: 1, threads: 1));
    }

    /// <summary>A CsCheck seed string (12 characters of its alphabet) from a SplitMix64 hash of (base, index).</summary>
    internal static string SeedFor(ulong baseSeed, int index)
    {
        ulong z = baseSeed + ((ulong)(index + 1) * 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        var chars = new char[12];
        chars[0] = '1';
        for (int c = 1; c < chars.Length; c++, z >>= 6)
            chars[c] = Alphabet[(int)(z & 63)];
        return new string(chars);
    }
}
