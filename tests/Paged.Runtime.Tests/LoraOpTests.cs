using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>The batched LoRA op (shrink then expand, per-token adapter slot) against a plain reference.</summary>
[TestClass]
public sealed class LoraOpTests
{
    // Each case: a fused output row wider than n (ldo > n, the op writes a column range: q inside qkv),
    // x rows with padding (ldx > k), slots mixing "no adapter" (-1), every slot, and a slot whose scale
    // is 0 (an adapter that does not touch this projection: left untouched). Ranks below max_rank are
    // zero-padded as the slot store keeps them. Tolerance: the reference sums in double; fp32 dots of
    // <= 300 terms then <= 64 more, whose partial sums reach ~60 (|h| ~ 8, scale 2) while the result may
    // cancel to O(0.1): fp32 rounding of the partial sums (6e-8 x 60 x ~64 steps) bounds the absolute
    // error by ~2e-4; 2e-5 relative on top.
    [TestMethod]
    [DataRow("cpu", 1, 1, 1, 5, 3)]
    [DataRow("cpu", 67, 8, 8, 64, 48)]
    [DataRow("cpu", 13, 16, 8, 33, 70)]
    [DataRow("cpu", 31, 64, 64, 128, 96)]
    [DataRow("cpu", 5, 16, 16, 300, 7)]
    [DataRow("cpu", 0, 8, 8, 16, 16)]
    [DataRow("simt", 1, 1, 1, 5, 3)]
    [DataRow("simt", 67, 8, 8, 64, 48)]
    [DataRow("simt", 13, 16, 8, 33, 270)]
    [DataRow("simt", 9, 64, 64, 128, 96)]
    [DataRow("simt", 5, 16, 16, 300, 7)]
    [DataRow("cuda", 67, 8, 8, 64, 48)]
    [DataRow("cuda", 9, 64, 64, 128, 96)]
    public void Lora_MatchesReference(string backend, int tokens, int maxRank, int rank, int k, int n)
    {
        var ctx = Backends.Context(backend);
        const int slots = 3;
        int ldx = k + 3, ldo = n + 5;
        var x = TestData.Uniform(Math.Max(1, tokens * ldx), 70 + k, scale: 2f);
        var a = TestData.Uniform(slots * maxRank * k, 71 + n);
        var b = TestData.Uniform(slots * maxRank * n, 72 + rank);
        for (int s = 0; s < slots; s++)
        {
            // slot s has rank max(1, rank >> s): rows beyond it are zero, as in a real slot store
            int r = Math.Max(1, rank >> s);
            a.AsSpan(((s * maxRank) + r) * k, (maxRank - r) * k).Clear();
            b.AsSpan(((s * maxRank) + r) * n, (maxRank - r) * n).Clear();
        }

        float[] scales = [2f, 0.5f, 0f];
        var tokenSlots = new int[Math.Max(1, tokens)];
        for (int t = 0; t < tokens; t++)
            tokenSlots[t] = (t * 7 % (slots + 1)) - 1; // -1, 2, 1, 0, ... mixed
        var outInit = TestData.Uniform(Math.Max(1, tokens * ldo), 73, scale: 3f);
        var expected = (float[])outInit.Clone();
        for (int t = 0; t < tokens; t++)
        {
            int s = tokenSlots[t];
            if (s < 0 || scales[s] == 0)
                continue;
            var h = new double[maxRank];
            for (int r = 0; r < maxRank; r++)
            {
                for (int i = 0; i < k; i++)
                    h[r] += (double)a[(((s * maxRank) + r) * k) + i] * x[(t * ldx) + i];
            }

            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int r = 0; r < maxRank; r++)
                    acc += h[r] * b[(((s * maxRank) + r) * n) + j];
                expected[(t * ldo) + j] = (float)(outInit[(t * ldo) + j] + (scales[s] * acc));
            }
        }

        using var xb = ctx.Upload<float>(x);
        using var ab = ctx.Upload<float>(a);
        using var bb = ctx.Upload<float>(b);
        using var sb = ctx.Upload<float>(scales);
        using var tb = ctx.Upload<int>(tokenSlots);
        using var ob = ctx.Upload<float>(outInit);
        using var wb = ctx.Allocate<float>(Math.Max(1, tokens * maxRank));
        ctx.Lora(Args(ob, xb, ab, bb, sb, tb, wb, tokens, n, k, maxRank, slots, ldx, ldo));
        TestData.AssertClose(expected, ob.ToArray<float>(), 2e-4, 2e-5, $"lora {backend} t{tokens} r{rank}/{maxRank} k{k} n{n}");
    }

    // Batch invariance: a token's output bits must not depend on the other tokens of the step. The CPU op
    // shares each adapter load among a tile of up to 4 tokens of one slot (lora_avx512.cpp); running 11
    // tokens of one slot (tiles of 4, 4, 3; then mixed with other slots) must give, bit for bit, what each
    // token gives alone (a tile of 1). Awkward sizes: k and n not multiples of 16, rank not of 4.
    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    public void Lora_TokenResultIndependentOfBatch(string backend)
    {
        var ctx = Backends.Context(backend);
        const int tokens = 11, maxRank = 7, k = 37, n = 45, slots = 2;
        var x = TestData.Uniform(tokens * k, 81, scale: 2f);
        var a = TestData.Uniform(slots * maxRank * k, 82);
        var b = TestData.Uniform(slots * maxRank * n, 83);
        var outInit = TestData.Uniform(tokens * n, 84, scale: 3f);
        using var ab = ctx.Upload<float>(a);
        using var bb = ctx.Upload<float>(b);
        using var sb = ctx.Upload<float>([1.5f, 0.25f]);

        float[] Run(int[] tokenSlots, float[] xs, float[] outs)
        {
            using var xb = ctx.Upload<float>(xs);
            using var tb = ctx.Upload<int>(tokenSlots);
            using var ob = ctx.Upload<float>(outs);
            using var wb = ctx.Allocate<float>(tokenSlots.Length * maxRank);
            ctx.Lora(Args(ob, xb, ab, bb, sb, tb, wb, tokenSlots.Length, n, k, maxRank, slots, k, n));
            return ob.ToArray<float>();
        }

        var together = Run(new int[tokens], x, outInit); // all slot 0
        var mixed = Run([.. Enumerable.Range(0, tokens).Select(t => t % 3 == 0 ? 0 : t % 3 == 1 ? 1 : -1)], x, outInit);
        for (int t = 0; t < tokens; t++)
        {
            var alone0 = Run([0], x.AsSpan(t * k, k).ToArray(), outInit.AsSpan(t * n, n).ToArray());
            CollectionAssert.AreEqual(alone0, together.AsSpan(t * n, n).ToArray(), $"{backend}: token {t} of 11 (slot 0) vs alone");
            if (t % 3 == 0)
                CollectionAssert.AreEqual(alone0, mixed.AsSpan(t * n, n).ToArray(), $"{backend}: token {t} in a mixed batch vs alone");
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Lora_RejectsBadArguments(string backend)
    {
        var ctx = Backends.Context(backend);
        using var x = ctx.Allocate<float>(64);
        using var w = ctx.Allocate<float>(256);
        using var scales = ctx.Upload<float>([1f, 1f]);
        using var slots = ctx.Upload<int>([0, 2]); // 2 is outside [-1, 2)
        using var o = ctx.Allocate<float>(64);
        using var ws = ctx.Allocate<float>(64);
        var args = Args(o, x, w, w, scales, slots, ws, 2, 8, 8, 4, 2, 8, 8);
        var e = DeviceErrors.AtOpOrNextWait(ctx, () => ctx.Lora(args));
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "lora: token_slots[1] = 2");
        args.NumTokens = 1;
        args.Ldo = 7;
        e = Assert.ThrowsExactly<BackendException>(() => ctx.Lora(args));
        Assert.AreEqual(Status.Shape, e.Status);
        StringAssert.Contains(e.Message, "ldo");
        args.Ldo = 8;
        args.MaxRank = 0;
        StringAssert.Contains(Assert.ThrowsExactly<BackendException>(() => ctx.Lora(args)).Message, "max_rank");
        args.MaxRank = 4;
        args.DType = DType.F16;
        Assert.AreEqual(Status.DType, Assert.ThrowsExactly<BackendException>(() => ctx.Lora(args)).Status);
    }

    private static LoraArgs Args(DeviceBuffer o, DeviceBuffer x, DeviceBuffer a, DeviceBuffer b, DeviceBuffer scales, DeviceBuffer slots,
        DeviceBuffer ws, int tokens, int n, int k, int maxRank, int numSlots, int ldx, int ldo) => new()
    {
        Out = o.Address, X = x.Address, A = a.Address, B = b.Address, Scales = scales.Address, TokenSlots = slots.Address,
        Workspace = ws.Address, NumTokens = tokens, N = n, K = k, MaxRank = maxRank, NumSlots = numSlots, Ldx = ldx, Ldo = ldo,
        DType = DType.F32,
    };
}
