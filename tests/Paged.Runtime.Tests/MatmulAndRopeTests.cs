using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

[TestClass]
public sealed class MatmulAndRopeTests
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
    public void Matmul_MatchesReference(string backend, int m, int n, int k)
    {
        var ctx = Backends.Context(backend);
        foreach (bool accumulate in new[] { false, true })
        {
            int ldx = k + 3, ldo = n + 5; // strided rows: padding must be neither read nor written
            var x = TestData.Uniform(m * ldx, 10 + m);
            var w = TestData.Uniform(n * k, 20 + n);
            var o = TestData.Uniform(m * ldo, 30 + k);
            var expected = (float[])o.Clone();
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double acc = accumulate ? o[(i * ldo) + j] : 0;
                    for (int p = 0; p < k; p++)
                        acc += (double)x[(i * ldx) + p] * w[(j * k) + p];
                    expected[(i * ldo) + j] = (float)acc;
                }
            }

            using var xb = ctx.Upload<float>(x);
            using var wb = ctx.Upload<float>(w);
            using var ob = ctx.Upload<float>(o);
            ctx.Matmul(new MatmulArgs
            {
                Out = ob.Address, X = xb.Address, W = wb.Address, M = m, N = n, K = k, Ldx = ldx, Ldo = ldo,
                Accumulate = accumulate ? 1 : 0,
            });
            TestData.AssertClose(expected, ob.ToArray<float>(), 2e-6 * k, 1e-5, $"matmul {m}x{n}x{k} accumulate={accumulate}");
        }
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
    }

    // Tolerance: the reference uses the same float angle as the backend (p * theta^(-2j/d) in fp32,
    // as llama2.c computes it) and rotates in double; what remains is one fp32 rounding of cos/sin and
    // of the rotation: 1e-5 relative to values of magnitude <= 1.
    [TestMethod]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 8, 8, 1, 1)]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 64, 64, 5, 7)]
    [DataRow("cpu", RopeStyle.RotateHalf, 64, 64, 8, 3)]
    [DataRow("cpu", RopeStyle.RotateHalf, 128, 64, 4, 17)]
    [DataRow("cpu", RopeStyle.AdjacentPairs, 128, 96, 2, 9)]
    [DataRow("simt", RopeStyle.RotateHalf, 64, 64, 8, 3)]
    [DataRow("cuda", RopeStyle.RotateHalf, 64, 64, 8, 3)]
    public void Rope_MatchesReference(string backend, RopeStyle style, int headSize, int rotaryDim, int gqa, int tokens)
    {
        var ctx = Backends.Context(backend);
        int kvHeads = 2, heads = kvHeads * gqa;
        int qStride = (heads + (2 * kvHeads)) * headSize; // q and k inside a fused qkv row, as in the model
        const float theta = 10000f;
        var qkv = TestData.Uniform(tokens * qStride, 40 + headSize);
        var positions = Enumerable.Range(0, tokens).Select(i => (i * 613) % 4096).ToArray();
        positions[0] = 0;
        var expected = (float[])qkv.Clone();
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < heads + kvHeads; h++)
            {
                int baseIdx = (t * qStride) + (h * headSize);
                for (int j = 0; j < rotaryDim / 2; j++)
                {
                    float freq = 1.0f / MathF.Pow(theta, 2 * j / (float)rotaryDim);
                    float angle = positions[t] * freq;
                    double c = Math.Cos(angle), s = Math.Sin(angle);
                    int i0 = style == RopeStyle.AdjacentPairs ? baseIdx + (2 * j) : baseIdx + j;
                    int i1 = style == RopeStyle.AdjacentPairs ? i0 + 1 : baseIdx + j + (rotaryDim / 2);
                    double a = qkv[i0], b = qkv[i1];
                    expected[i0] = (float)((a * c) - (b * s));
                    expected[i1] = (float)((a * s) + (b * c));
                }
            }
        }

        using var qb = ctx.Upload<float>(qkv);
        using var pb = ctx.Upload<int>(positions);
        ctx.Rope(new RopeArgs
        {
            Q = qb.Address, K = qb.At<float>(heads * headSize), Positions = pb.Address, NumTokens = tokens,
            NumHeads = heads, NumKvHeads = kvHeads, HeadSize = headSize, RotaryDim = rotaryDim,
            QStride = qStride, KStride = qStride, Style = style, Theta = theta,
        });
        TestData.AssertClose(expected, qb.ToArray<float>(), 2e-5, 1e-5, $"rope {style}");
    }
}
