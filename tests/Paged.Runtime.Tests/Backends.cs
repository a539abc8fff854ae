using Paged.Runtime;

namespace Paged.Runtime.Tests;

/// <summary>
/// The backends op tests run on. Each test takes the backend name from a DataRow; a backend whose
/// library is not present in this build is reported inconclusive with the reason, never silently passed.
/// A context is not thread-safe (paged.h), and test classes run in parallel: each thread gets its own.
/// </summary>
internal static class Backends
{
    private static readonly Dictionary<(string, int), DeviceContext> Contexts = [];
    private static readonly Lock Gate = new();

    public static DeviceContext Context(string name)
    {
        if (Environment.GetEnvironmentVariable(PortablePathTests.OnlyBackendsVariable) is { Length: > 0 } only && !only.Split(',').Contains(name))
            Assert.Inconclusive($"backend '{name}' is left out of this run ({PortablePathTests.OnlyBackendsVariable}={only})");
        if (!Backend.IsAvailable(name))
            Assert.Inconclusive($"backend '{name}' is not built on this machine (libpaged_{name}.so missing)");
        lock (Gate)
        {
            var key = (name, Environment.CurrentManagedThreadId);
            if (!Contexts.TryGetValue(key, out var ctx))
            {
                try
                {
                    ctx = Backend.Load(name).CreateContext();
                }
                catch (BackendException e) when (e.Status == Status.Unsupported)
                {
                    // e.g. libpaged_cuda.so is built but this machine has no GPU: skipped, with the reason.
                    Assert.Inconclusive($"backend '{name}' cannot run here: {e.Message}");
                    throw;
                }

                Contexts[key] = ctx;
            }

            return ctx;
        }
    }
}

/// <summary>Deterministic test data.</summary>
internal static class TestData
{
    public static float[] Uniform(int count, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < a.Length; i++)
            a[i] = (float)((r.NextDouble() * 2) - 1) * scale;
        return a;
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, double rtol, string what)
    {
        Assert.AreEqual(expected.Length, actual.Length, $"{what}: length");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(e - a) <= atol + (rtol * Math.Abs(e))))
                Assert.Fail($"{what}: element {i} expected {e:R} got {a:R} (atol {atol}, rtol {rtol})");
        }
    }
}
