using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>
/// The LoRA op over bf16 adapter slots and per-slot ranks (pg_lora_args.weight_dtype, slot_ranks): a batch mixing
/// adapters of ranks 1, 8, 16 and 64 (and a rank-0 slot) in one pool, base-model rows (-1) and tokens of many slots
/// interleaved, against a double reference on the same (rounded) adapter values.
/// </summary>
[TestClass]
public sealed class LoraSlotOpTests
{
    private const float Garbage = 1e3f; // rows at and beyond a slot's rank: must not be read
    private static readonly int[] PoolRanks = [1, 8, 16, 64, 0];

    // Tolerance as LoraOpTests (the same fp32 sums: widening bf16 is exact, so rounding the adapters moves the
    // reference with them and adds no error): partial sums up to ~60 over <= 300 + 64 fp32 steps, 2e-4 absolute,
    // 2e-5 relative on top.
    [TestMethod]
    [DataRow("cpu", "bf16", 67, 64, 64, 48)]
    [DataRow("cpu", "bf16", 13, 16, 33, 70)]
    [DataRow("cpu", "f32", 41, 64, 37, 45)]
    [DataRow("cpu", "bf16", 5, 8, 300, 7)]
    [DataRow("cpu", "bf16", 0, 16, 16, 16)]
    [DataRow("simt", "bf16", 67, 64, 64, 48)]
    [DataRow("simt", "bf16", 13, 16, 33, 270)]
    [DataRow("simt", "f32", 9, 64, 37, 45)]
    [DataRow("cuda", "bf16", 67, 64, 64, 48)]
    [DataRow("cuda", "f32", 9, 64, 37, 45)]
    public void Lora_MixedRanksAndDtypes_MatchReference(string backend, string weights, int tokens, int maxRank, int k, int n)
    {
        var ctx = Backends.Context(backend);
        bool bf16 = weights == "bf16";
        int[] ranks = [.. PoolRanks.Select(r => Math.Min(r, maxRank))];
        float[] scales = [2f, 0.5f, 1.25f, -0.75f, 3f];
        int slots = ranks.Length, ldx = k + 3, ldo = n + 5;
        var x = TestData.Uniform(Math.Max(1, tokens * ldx), 90 + k, scale: 2f);
        var a = Adapters(slots, maxRank, k, ranks, 91 + n, bf16);
        var b = Adapters(slots, maxRank, n, ranks, 92 + k, bf16);
        var tokenSlots = new int[Math.Max(1, tokens)];
        for (int t = 0; t < tokens; t++)
            tokenSlots[t] = ((t * 5) + 3) % (slots + 1) - 1; // every slot and -1, interleaved
        var outInit = TestData.Uniform(Math.Max(1, tokens * ldo), 93, scale: 3f);
        var expected = (float[])outInit.Clone();
        for (int t = 0; t < tokens; t++)
        {
            int s = tokenSlots[t];
            if (s < 0)
                continue;
            var h = new double[ranks[s]];
            for (int r = 0; r < h.Length; r++)
            {
                for (int i = 0; i < k; i++)
                    h[r] += (double)a.Values[(((s * maxRank) + r) * k) + i] * x[(t * ldx) + i];
            }

            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int r = 0; r < h.Length; r++)
                    acc += h[r] * b.Values[(((s * maxRank) + r) * n) + j];
                expected[(t * ldo) + j] = (float)(outInit[(t * ldo) + j] + (scales[s] * acc));
            }
        }

        var got = Run(ctx, bf16, a, b, x, scales, ranks, tokenSlots, outInit, tokens, n, k, maxRank, ldx, ldo);
        TestData.AssertClose(expected, got, 2e-4, 2e-5, $"lora {backend} {weights} t{tokens} max_rank {maxRank} k{k} n{n}");
    }

    // A slot's rank only skips rows that would add zeros: ranked slots (garbage beyond the rank) give, bit for bit,
    // what slots padded with zero rows and no slot_ranks (the op's previous form) give, in either weight dtype.
    [TestMethod]
    [DataRow("cpu", "f32")]
    [DataRow("cpu", "bf16")]
    [DataRow("simt", "f32")]
    [DataRow("simt", "bf16")]
    public void Lora_RankedSlots_BitIdenticalToZeroPadded(string backend, string weights)
    {
        var ctx = Backends.Context(backend);
        bool bf16 = weights == "bf16";
        const int tokens = 23, maxRank = 16, k = 53, n = 77;
        int[] ranks = [16, 3, 8];
        float[] scales = [1.5f, 0.25f, 2f];
        var x = TestData.Uniform(tokens * k, 95, scale: 2f);
        var a = Adapters(ranks.Length, maxRank, k, ranks, 96, bf16);
        var b = Adapters(ranks.Length, maxRank, n, ranks, 97, bf16);
        var tokenSlots = Enumerable.Range(0, tokens).Select(t => (t % 4) - 1).ToArray();
        var outInit = TestData.Uniform(tokens * n, 98, scale: 3f);
        var ranked = Run(ctx, bf16, a, b, x, scales, ranks, tokenSlots, outInit, tokens, n, k, maxRank, k, n);
        var padded = Run(ctx, bf16, a.ZeroPadded(ranks, maxRank, k), b.ZeroPadded(ranks, maxRank, n), x, scales, null, tokenSlots, outInit,
            tokens, n, k, maxRank, k, n);
        CollectionAssert.AreEqual(padded, ranked, $"{backend} {weights}: ranked slots vs zero-padded slots");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    public void Lora_RejectsBadRanksAndWeightDtype(string backend)
    {
        var ctx = Backends.Context(backend);
        using var x = ctx.Allocate<float>(64);
        using var w = ctx.Allocate<float>(256);
        using var scales = ctx.Upload<float>([1f, 1f]);
        using var slots = ctx.Upload<int>([0, 1]);
        using var ranks = ctx.Upload<int>([4, 5]); // 5 > max_rank 4
        using var o = ctx.Allocate<float>(64);
        using var ws = ctx.Allocate<float>(64);
        var args = new LoraArgs
        {
            Out = o.Address, X = x.Address, A = w.Address, B = w.Address, Scales = scales.Address, TokenSlots = slots.Address,
            Workspace = ws.Address, NumTokens = 2, N = 8, K = 8, MaxRank = 4, NumSlots = 2, Ldx = 8, Ldo = 8,
            DType = DType.F32, WeightDType = DType.F16, SlotRanks = ranks.Address,
        };
        var e = Assert.ThrowsExactly<BackendException>(() => ctx.Lora(args));
        Assert.AreEqual(Status.DType, e.Status);
        StringAssert.Contains(e.Message, "weight_dtype");
        if (backend != "cpu")
            return; // the device reads slot_ranks itself (clamped there); only a validating context checks them on the host
        args.WeightDType = DType.BF16;
        e = Assert.ThrowsExactly<BackendException>(() => ctx.Lora(args));
        Assert.AreEqual(Status.OutOfRange, e.Status);
        StringAssert.Contains(e.Message, "slot_ranks[1] = 5");
    }

    private static float[] Run(DeviceContext ctx, bool bf16, SlotValues a, SlotValues b, float[] x, float[] scales, int[]? ranks, int[] tokenSlots,
        float[] outInit, int tokens, int n, int k, int maxRank, int ldx, int ldo)
    {
        using var xb = ctx.Upload<float>(x);
        using var ab = bf16 ? ctx.Upload<ushort>(a.Bf16Bits()) : ctx.Upload<float>(a.Values);
        using var bb = bf16 ? ctx.Upload<ushort>(b.Bf16Bits()) : ctx.Upload<float>(b.Values);
        using var sb = ctx.Upload<float>(scales);
        using var rb = ranks is null ? null : ctx.Upload<int>(ranks);
        using var tb = ctx.Upload<int>(tokenSlots);
        using var ob = ctx.Upload<float>(outInit);
        using var wb = ctx.Allocate<float>(Math.Max(1, tokens * maxRank));
        ctx.Lora(new LoraArgs
        {
            Out = ob.Address, X = xb.Address, A = ab.Address, B = bb.Address, Scales = sb.Address, TokenSlots = tb.Address,
            Workspace = wb.Address, NumTokens = tokens, N = n, K = k, MaxRank = maxRank, NumSlots = scales.Length, Ldx = ldx, Ldo = ldo,
            DType = DType.F32, WeightDType = bf16 ? DType.BF16 : DType.F32, SlotRanks = rb?.Address ?? 0,
        });
        return ob.ToArray<float>();
    }

    /// <summary>[slots, maxRank, width] adapter rows: random below each slot's rank (rounded to bf16 when asked), garbage beyond.</summary>
    private static SlotValues Adapters(int slots, int maxRank, int width, int[] ranks, int seed, bool bf16)
    {
        var v = TestData.Uniform(slots * maxRank * width, seed);
        for (int s = 0; s < slots; s++)
            v.AsSpan(((s * maxRank) + ranks[s]) * width, (maxRank - ranks[s]) * width).Fill(Garbage);
        if (bf16)
        {
            for (int i = 0; i < v.Length; i++)
                v[i] = BitConverter.UInt32BitsToSingle((uint)MatmulTests.ToBf16(v[i]) << 16);
        }

        return new SlotValues(v);
    }

    private sealed record SlotValues(float[] Values)
    {
        public ushort[] Bf16Bits() => [.. Values.Select(f => (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16))];

        public SlotValues ZeroPadded(int[] ranks, int maxRank, int width)
        {
            var v = (float[])Values.Clone();
            for (int s = 0; s < ranks.Length; s++)
                v.AsSpan(((s * maxRank) + ranks[s]) * width, (maxRank - ranks[s]) * width).Clear();
            return new SlotValues(v);
        }
    }
}
