using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

[TestClass]
public sealed class MatmulTests
{
    // Tolerance: reference in double; an fp32 dot product of K terms with |x|,|w| <= 1 has error
    // below K * 2^-24 * sum|x w| <= K^2 * 6e-8 in the worst case, far less in practice (random signs):
    // 2e-6 * K absolute is a loose but meaningful bound (a wrong element or index is off by O(1)).
    [TestMethod]
    [DataRow("cpu", 1, 1, 1)]
    [DataRow("cpu", 1, 5, 8)]
    [DataRow("cpu", 1, 257, 100)]
    [DataRow("cpu", 2, 33, 31)]
    [DataRow("cpu", 3, 64, 64)]
    [DataRow("cpu", 7, 100, 172)]
    [DataRow("cpu", 17, 65, 33)]
    [DataRow("cpu", 64, 256, 768)]
    [DataRow("cpu", 100, 130, 65)]
    [DataRow("cpu", 513, 96, 40)]
    [DataRow("simt", 7, 100, 172)]
    [DataRow("cuda", 7, 100, 172)]
    public void Matmul_MatchesReference(string backend, int m, int n, int k) => Run(backend, m, n, k, withBias: false);

    // out = x w^T + bias (+ out): Qwen2's q/k/v projections. Odd column counts put bias elements in
    // every tile shape and in the single-column tails of the AVX2 kernel.
    [TestMethod]
    [DataRow("cpu", 1, 1, 1)]
    [DataRow("cpu", 1, 7, 16)]
    [DataRow("cpu", 1, 257, 100)]
    [DataRow("cpu", 2, 33, 31)]
    [DataRow("cpu", 3, 50, 64)]
    [DataRow("cpu", 5, 131, 33)]
    [DataRow("cpu", 64, 256, 72)]
    [DataRow("simt", 1, 7, 16)]
    [DataRow("simt", 5, 131, 33)]
    [DataRow("cuda", 5, 131, 33)]
    public void Matmul_WithBias_MatchesReference(string backend, int m, int n, int k) => Run(backend, m, n, k, withBias: true);

    // bf16 / f16 weights on the CPU backend (x and out fp32): the weights are widened exactly, so the
    // reference is the fp32 one on the widened weights, with the same tolerance. K values that are not a
    // multiple of 8 exercise the zero-padded tail load of half weights.
    [TestMethod]
    [DataRow("cpu", DType.BF16, 1, 1, 1)]
    [DataRow("cpu", DType.BF16, 1, 257, 100)]
    [DataRow("cpu", DType.BF16, 2, 33, 31)]
    [DataRow("cpu", DType.BF16, 5, 131, 33)]
    [DataRow("cpu", DType.BF16, 64, 256, 72)]
    [DataRow("cpu", DType.F16, 1, 7, 16)]
    [DataRow("cpu", DType.F16, 3, 50, 65)]
    [DataRow("cpu", DType.F16, 17, 65, 33)]
    [DataRow("cpu", DType.BF16, 130, 41, 257)]
    [DataRow("simt", DType.BF16, 1, 257, 100)]
    [DataRow("simt", DType.BF16, 3, 33, 31)]
    [DataRow("simt", DType.BF16, 17, 65, 33)]
    [DataRow("simt", DType.BF16, 64, 41, 72)]
    [DataRow("simt", DType.BF16, 130, 41, 257)]
    [DataRow("simt", DType.F16, 1, 7, 16)]
    [DataRow("simt", DType.F16, 3, 50, 65)]
    [DataRow("simt", DType.F16, 17, 5, 129)]
    [DataRow("simt", DType.F16, 64, 33, 8)]
    [DataRow("simt", DType.F16, 130, 9, 65)]
    [DataRow("cuda", DType.BF16, 1, 257, 100)]
    [DataRow("cuda", DType.BF16, 130, 41, 257)]
    [DataRow("cuda", DType.F16, 3, 50, 65)]
    [DataRow("cuda", DType.F16, 64, 33, 8)]
    public void Matmul_HalfWeights_MatchesReference(string backend, DType wType, int m, int n, int k) =>
        Run(backend, m, n, k, withBias: m % 2 == 1, wType);

    // batch_invariant (cuda/simt: the SIMT GEMM kernel for every m and w dtype, f32 included; the cpu GEMM ignores
    // the flag, being invariant anyway): the same reference and tolerance. That a row's bits do not depend on the
    // batch is checked by the kernel grid (gemm_tests.cpp) and end to end by BatchInvarianceTests.
    [TestMethod]
    [DataRow("cpu", DType.F32, 17, 65, 33)]
    [DataRow("simt", DType.F32, 1, 257, 100)]
    [DataRow("simt", DType.F32, 17, 65, 33)]
    [DataRow("simt", DType.F32, 130, 9, 259)]
    [DataRow("simt", DType.BF16, 3, 33, 31)]
    [DataRow("simt", DType.BF16, 130, 41, 72)]
    [DataRow("simt", DType.F16, 64, 5, 129)]
    [DataRow("cuda", DType.F32, 17, 65, 33)]
    [DataRow("cuda", DType.BF16, 130, 41, 72)]
    public void Matmul_BatchInvariant_MatchesReference(string backend, DType wType, int m, int n, int k) =>
        Run(backend, m, n, k, withBias: m % 2 == 1, wType, batchInvariant: true);

    [TestMethod]
    [DataRow("cpu")]
    public void Matmul_HalfActivationsAreRejectedOnTheCpu(string backend)
    {
        var ctx = Backends.Context(backend);
        using var b = ctx.Allocate<float>(256);
        using var o = ctx.Allocate<float>(256);
        var args = new MatmulArgs { Out = o.Address, X = b.Address, W = b.Address, M = 2, N = 4, K = 8, Ldx = 8, Ldo = 4, XDType = DType.BF16, WDType = DType.BF16 };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.Matmul(args));
        Assert.AreEqual(Status.DType, e.Status);
        StringAssert.Contains(e.Message, "x_dtype");
    }

    /// <summary>Rounds to the nearest bf16 (ties to even) and returns its bits.</summary>
    internal static ushort ToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
    }

    /// <summary>
    /// Runs out (+)= x w^T (+ bias) against a double reference on the weights the backend reads. Tolerance: 2e-6 (K + 3)
    /// absolute and 1e-5 relative (fp32 accumulation, see above); on cuda, half weights with m above the SIMT kernel's
    /// limit (8) go to cuBLAS GemmEx on x rounded to w's type, which adds up to u sum|x w| (u = 2^-8 for bf16, 2^-11 for
    /// f16: half an ulp of each rounded x, |w| unchanged) per element.
    /// </summary>
    private static void Run(string backend, int m, int n, int k, bool withBias, DType wType = DType.F32, bool batchInvariant = false)
    {
        var ctx = Backends.Context(backend);
        var w = TestData.Uniform(n * k, 20 + n);
        var wHalf = new ushort[w.Length];
        for (int i = 0; i < w.Length; i++)
        {
            wHalf[i] = wType == DType.BF16 ? ToBf16(w[i]) : BitConverter.HalfToUInt16Bits((Half)w[i]);
            if (wType != DType.F32) // the reference uses exactly the weights the backend reads
                w[i] = wType == DType.BF16 ? BitConverter.UInt32BitsToSingle((uint)wHalf[i] << 16) : (float)BitConverter.UInt16BitsToHalf(wHalf[i]);
        }

        using var wb = wType == DType.F32 ? ctx.Upload<float>(w) : ctx.Upload<ushort>(wHalf);
        foreach (bool accumulate in new[] { false, true })
            Check(ctx, m, n, k, wb, wType, Array.ConvertAll(w, v => (double)v), accumulate, withBias, batchInvariant);
    }

    /// <summary>
    /// One matmul against a double reference: x [m, k] and out [m, n] with padded rows (the padding must be
    /// neither read nor written), weights already on the device (<paramref name="wValues"/>: the values they
    /// stand for, [n, k]), out = x w^T (+ bias) (+ out).
    /// </summary>
    internal static void Check(DeviceContext ctx, int m, int n, int k, DeviceBuffer w, DType wType, double[] wValues, bool accumulate, bool withBias, bool batchInvariant = false)
    {
        int ldx = k + 3, ldo = n + 5;
        var bias = TestData.Uniform(n, 50 + n, scale: 3f);
        var x = TestData.Uniform(m * ldx, 10 + m);
        var o = TestData.Uniform(m * ldo, 30 + k);
        var expected = (float[])o.Clone();
        bool roundsX = ctx.Backend.Name == "cuda" && (wType == DType.BF16 || wType == DType.F16) && !batchInvariant && m > 8;
        double u = wType == DType.BF16 ? Math.ScaleB(1, -8) : Math.ScaleB(1, -11);
        double xRounding = 0; // the largest u sum|x w| of an element, when x is rounded
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double acc = (accumulate ? o[(i * ldo) + j] : 0) + (withBias ? bias[j] : 0), mag = 0;
                for (int p = 0; p < k; p++)
                {
                    double t = (double)x[(i * ldx) + p] * wValues[(j * k) + p];
                    acc += t;
                    mag += Math.Abs(t);
                }

                expected[(i * ldo) + j] = (float)acc;
                xRounding = roundsX ? Math.Max(xRounding, u * mag) : 0;
            }
        }

        using var bb = ctx.Upload<float>(bias);
        using var xb = ctx.Upload<float>(x);
        using var ob = ctx.Upload<float>(o);
        ctx.Matmul(new MatmulArgs
        {
            Out = ob.Address, X = xb.Address, W = w.Address, M = m, N = n, K = k, Ldx = ldx, Ldo = ldo,
            Accumulate = accumulate ? 1 : 0, Bias = withBias ? bb.Address : 0, WDType = wType,
            BatchInvariant = batchInvariant ? 1 : 0,
        });
        TestData.AssertClose(expected, ob.ToArray<float>(), (2e-6 * (k + 3)) + xRounding, 1e-5,
            $"matmul {m}x{n}x{k} w={wType} accumulate={accumulate} bias={withBias} batch_invariant={batchInvariant} on {ctx.DeviceName}");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Matmul_RejectsBadShapes(string backend)
    {
        var ctx = Backends.Context(backend);
        using var b = ctx.Allocate<float>(256);
        using var o = ctx.Allocate<float>(256);
        var args = new MatmulArgs { Out = o.Address, X = b.Address, W = b.Address, M = 2, N = 4, K = 8, Ldx = 4, Ldo = 4 };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.Matmul(args));
        StringAssert.Contains(e.Message, "ldx");
        args.Ldx = 8;
        args.Out = b.Address; // aliasing the input
        Assert.ThrowsExactly<BackendException>(() => ctx.Matmul(args));
        args.Out = o.Address;
        args.Bias = o.At<float>(2); // the bias inside the output
        e = Assert.ThrowsExactly<BackendException>(() => ctx.Matmul(args));
        StringAssert.Contains(e.Message, "bias");
    }
}
