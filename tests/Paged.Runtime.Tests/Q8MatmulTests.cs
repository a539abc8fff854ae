using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// q8_0 weights (GGUF blocks of 32: an f16 scale d and 32 int8 q, w = d * q) read in place by the CPU GEMM,
/// against a double reference on d * q. The class name contains "MatmulTests", so <see cref="PortablePathTests"/>
/// reruns these rows on the AVX2 path (PAGED_CPU_NO_AVX512=1) and the portable one (PAGED_CPU_NO_AVX2=1).
/// </summary>
[TestClass]
public sealed class Q8MatmulTests
{
    // Sizes: M = 1 (one weight row at a time), M = 2..5 and 17 (every tile shape of 4, 3 and 2 rows of x, and
    // their single-column tails: N not a multiple of 2, 3 or 4); K = 32 (one block) to 320 (10 blocks).
    // Tolerance as MatmulTests: |x| <= 1 and |w| = d |q| <= 127 / 128 < 1, so an fp32 dot product of K terms
    // is within 2e-6 * K of the double one with room to spare; a wrong block, scale or index is off by O(0.01)
    // or more. The kernels sum each block's x . q before scaling by d, which rounds differently from
    // summing x * (d q), and stays within the same bound.
    [TestMethod]
    [DataRow("cpu", 1, 1, 32)]
    [DataRow("cpu", 1, 257, 96)]
    [DataRow("cpu", 2, 33, 64)]
    [DataRow("cpu", 3, 50, 160)]
    [DataRow("cpu", 4, 7, 320)]
    [DataRow("cpu", 5, 131, 32)]
    [DataRow("cpu", 17, 65, 96)]
    public void Matmul_Q8_0Weights_MatchesReference(string backend, int m, int n, int k)
    {
        var ctx = Backends.Context(backend);
        var (blocks, w) = RandomQ8(n, k, seed: 70 + n + k);
        using var wb = ctx.Upload<byte>(blocks);
        foreach (bool accumulate in new[] { false, true })
            MatmulTests.Check(ctx, m, n, k, wb, DType.Q8_0, w, accumulate, withBias: accumulate == (m % 2 == 1));
    }

    [TestMethod]
    [DataRow("cpu")]
    public void Matmul_Q8_0WithKNotWholeBlocks_IsRefused(string backend)
    {
        var ctx = Backends.Context(backend);
        using var b = ctx.Allocate<float>(256);
        using var o = ctx.Allocate<float>(256);
        var args = new MatmulArgs { Out = o.Address, X = b.Address, W = b.Address, M = 1, N = 2, K = 48, Ldx = 48, Ldo = 2, WDType = DType.Q8_0 };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.Matmul(args));
        StringAssert.Contains(e.Message, "multiple of 32");
    }

    /// <summary>
    /// n rows of k / 32 blocks with scales in [2^-8, 2^-7] (as f16; the reference uses the f16 value exactly)
    /// and q in [-127, 127]; returns the bytes and the weights they stand for.
    /// </summary>
    private static (byte[] Blocks, double[] Weights) RandomQ8(int n, int k, int seed)
    {
        var r = new Random(seed);
        var bytes = new byte[n * (k / 32) * 34];
        var w = new double[n * k];
        for (int row = 0; row < n; row++)
        {
            for (int blk = 0; blk < k / 32; blk++)
            {
                int at = ((row * (k / 32)) + blk) * 34;
                var d = (Half)((1 + r.NextDouble()) / 256);
                BitConverter.TryWriteBytes(bytes.AsSpan(at, 2), BitConverter.HalfToUInt16Bits(d));
                for (int i = 0; i < 32; i++)
                {
                    sbyte q = (sbyte)r.Next(-127, 128);
                    bytes[at + 2 + i] = (byte)q;
                    w[(row * k) + (blk * 32) + i] = (double)d * q;
                }
            }
        }

        return (bytes, w);
    }
}
