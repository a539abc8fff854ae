namespace Paged.Models;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast and deterministic across platforms. Element i of a stream is a
/// pure function of (seed, i), so a tensor can be generated chunk by chunk from any offset.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private ulong _state = seed;

    /// <summary>The next value of the stream, uniform in [-1, 1).</summary>
    public float NextUniform() => ToUniform(Mix(_state += Golden));

    /// <summary>Element <paramref name="index"/> (0-based) of the stream that starts at <paramref name="seed"/>, uniform in [-1, 1).</summary>
    public static float Uniform(ulong seed, long index) => ToUniform(Mix(seed + (((ulong)index + 1) * Golden)));

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static float ToUniform(ulong z) => (z >> 40) * (2f / (1 << 24)) - 1f;
}
