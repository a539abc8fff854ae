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

    /// <summary>PAGED_TEST_BACKENDS=cuda (comma-separated) runs only those rows (tools/gpu_check.sh);
    /// the others are reported inconclusive. Reference contexts (<see cref="Reference"/>) are exempt.</summary>
    private static readonly string[]? Selected = Environment.GetEnvironmentVariable("PAGED_TEST_BACKENDS") is { Length: > 0 } v ? v.Split(',') : null;

    public static DeviceContext Context(string name)
    {
        if (Selected is not null && !Selected.Contains(name))
            Assert.Inconclusive($"backend '{name}' is not selected (PAGED_TEST_BACKENDS={string.Join(',', Selected)})");
        return Reference(name);
    }

    /// <summary>A context of backend <paramref name="name"/> used as a reference by another row's test.</summary>
    public static DeviceContext Reference(string name)
    {
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

/// <summary>Errors in index arrays (device memory): the CPU and simt backends report them from the op
/// itself; a GPU op does not read device memory on the host, so its kernel records the error and the
/// next wait reports it (paged.h). Either way the same status and message.</summary>
internal static class DeviceErrors
{
    public static BackendException AtOpOrNextWait(DeviceContext ctx, Action op) =>
        Assert.ThrowsExactly<BackendException>(() =>
        {
            op();
            ctx.Synchronize();
        });
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
