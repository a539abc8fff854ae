using Paged.Runtime.Interop;

namespace Paged.Runtime.Tests;

/// <summary>The fused sample op: exactness, logprobs, errors, reproducibility and draw statistics.</summary>
[TestClass]
public sealed class SamplingOpTests
{
    private static float[] Normal(int count, int seed, double sigma)
    {
        var r = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u1 = 1 - r.NextDouble(), u2 = r.NextDouble();
            a[i] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return a;
    }

    private static (int[] Tokens, float[] Logprobs, SampleRowStatus[] Status, SampleBatch Batch) Run(
        DeviceContext ctx, float[] logits, int vocab, IReadOnlyList<SampleRow> rows, int stride = 0)
    {
        stride = stride == 0 ? vocab : stride;
        using var lb = ctx.Upload<float>(logits);
        var batch = new SampleBatch(ctx);
        batch.Run(lb.Address, vocab, stride, rows);
        return (batch.Tokens.ToArray(), batch.Logprobs.ToArray(), batch.Status.ToArray(), batch);
    }

    [TestMethod]
    public void Philox_MatchesRandom123KnownAnswers()
    {
        CollectionAssert.AreEqual(new uint[] { 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8 }, Philox.Block([0, 0, 0, 0], 0, 0));
        CollectionAssert.AreEqual(
            new uint[] { 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd },
            Philox.Block([uint.MaxValue, uint.MaxValue, uint.MaxValue, uint.MaxValue], uint.MaxValue, uint.MaxValue));
        CollectionAssert.AreEqual(
            new uint[] { 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1 },
            Philox.Block([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 0xa4093822, 0x299f31d0));
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Draw_IsPhiloxInverseCdf(string backend)
    {
        // Eight equal logits: every e is exactly 1, so the token is exactly floor(u * 8).
        var ctx = Backends.Context(backend);
        const int vocab = 8, rows = 200;
        var logits = new float[rows * vocab];
        var spec = Enumerable.Range(0, rows).Select(i => new SampleRow { Temperature = 1, Seed = 0x1234_5678_9abc_def0UL + (ulong)(i % 3), Step = (i * 7919L) + (i % 2 == 0 ? 0 : 1L << 33) }).ToArray();
        var (tokens, _, _, b) = Run(ctx, logits, vocab, spec);
        b.Dispose();
        for (int i = 0; i < rows; i++)
            Assert.AreEqual((int)(Philox.Uniform(spec[i].Seed, (ulong)spec[i].Step) * 8), tokens[i], $"row {i}");
    }

    [TestMethod]
    [DataRow("cpu", 1000)]
    [DataRow("cpu", 128256)]
    [DataRow("simt", 1000)]
    [DataRow("cuda", 1000)]
    public void Greedy_IsArgmaxWithTiesToLowestId_AndTopK1AndTinyTemperatureAgree(string backend, int vocab)
    {
        var ctx = Backends.Context(backend);
        const int rows = 12;
        int stride = vocab + 5;
        var logits = new float[rows * stride];
        var expected = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = Normal(vocab, 100 + r, 2);
            int a = (r * 7919) % vocab, b2 = Math.Min(vocab - 1, a + 1 + r);
            row[a] = 20;
            row[b2] = 20;
            expected[r] = Math.Min(a, b2);
            row.CopyTo(logits, r * stride);
            for (int pad = vocab; pad < stride; pad++)
                logits[(r * stride) + pad] = 1000; // beyond the row: ignored
        }

        var greedy = Enumerable.Range(0, rows).Select(r => new SampleRow { Temperature = 0, Seed = (ulong)r }).ToArray();
        var (g, _, status, b) = Run(ctx, logits, vocab, greedy, stride);
        b.Dispose();
        CollectionAssert.AreEqual(expected, g);
        Assert.IsTrue(status.All(s => s == SampleRowStatus.Ok));

        // top-k = 1 at any temperature keeps exactly the maximum: with a tie both survive, so use rows
        // without ties here (lift the lower tied id slightly).
        for (int r = 0; r < rows; r++)
            logits[(r * stride) + expected[r]] = 20.5f;
        var topK1 = Enumerable.Range(0, rows).Select(r => new SampleRow { Temperature = 1.5f, TopK = 1, Seed = (ulong)r, Step = r }).ToArray();
        var (k1, _, _, b2b) = Run(ctx, logits, vocab, topK1, stride);
        b2b.Dispose();
        CollectionAssert.AreEqual(expected, k1);
        var tiny = Enumerable.Range(0, rows).Select(r => new SampleRow { Temperature = 1e-3f, Seed = (ulong)r, Step = r }).ToArray();
        var (t0, _, _, b3) = Run(ctx, logits, vocab, tiny, stride);
        b3.Dispose();
        CollectionAssert.AreEqual(expected, t0, "temperature -> 0 approaches greedy");
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void PenaltiesAndBias_MatchHandComputedReference(string backend)
    {
        var ctx = Backends.Context(backend);
        const int vocab = 16;
        var raw = Normal(vocab, 7, 1.5f);
        raw[3] = 2.5f;
        raw[5] = -1.25f;
        int[] prompt = [1, 3, 3, 5];
        int[] output = [5, 7, 7, 7, 9, 2];
        var bias = new Dictionary<int, float> { [0] = 3f, [9] = -2.5f, [15] = 0.75f };
        int[] stops = [2, 11];
        var history = prompt.Concat(output).ToList();
        foreach (var (temperature, step) in new[] { (0f, 3L), (0.7f, 3L), (0.7f, 6L), (1.3f, 0L) })
        {
            var row = new SampleRow
            {
                Temperature = temperature, RepetitionPenalty = 1.3f, FrequencyPenalty = 0.4f, PresencePenalty = 0.25f,
                LogitBias = bias, MinTokens = 5, StopIds = stops, History = history, PromptLength = prompt.Length,
                NumLogprobs = vocab, ProcessedLogprobs = true, Step = step, Seed = 99,
            };
            var s = SamplingReference.Process(raw, bias, stops, step < 5, prompt, output, 1.3f, 0.4f, 0.25f);
            var expected = SamplingReference.LogSoftmax(s, temperature == 0 ? 1 : temperature);
            using var lb = ctx.Upload<float>(raw);
            using var batch = new SampleBatch(ctx);
            batch.Run(lb.Address, vocab, vocab, [row]);
            Assert.AreEqual(SampleRowStatus.Ok, batch.Status[0]);
            var ids = batch.TopIds(0, vocab).ToArray();
            var lps = batch.TopLogprobs(0, vocab).ToArray();
            for (int i = 0; i < vocab; i++)
            {
                if (ids[i] < 0)
                {
                    Assert.IsTrue(float.IsNegativeInfinity(lps[i]));
                    continue;
                }

                Assert.AreEqual(expected[ids[i]], lps[i], 1e-5, $"T={temperature} step={step}: token {ids[i]}");
            }

            var present = ids.Where(i => i >= 0).ToHashSet();
            for (int t = 0; t < vocab; t++)
                Assert.AreEqual(!double.IsNegativeInfinity(expected[t]), present.Contains(t), $"token {t} listed iff possible");
            if (temperature == 0)
                Assert.AreEqual(Array.IndexOf(s, s.Max()), batch.Tokens[0], "greedy on the processed logits");
            Assert.AreEqual(expected[batch.Tokens[0]], batch.Logprobs[0], 1e-5, "chosen token's processed logprob");
        }
    }

    [TestMethod]
    [DataRow("cpu", 512)]
    [DataRow("cpu", 32000)]
    [DataRow("simt", 512)]
    [DataRow("cuda", 512)]
    public void RawAndProcessedLogprobs_MatchDoubleLogSoftmax(string backend, int vocab)
    {
        var ctx = Backends.Context(backend);
        var raw = Normal(vocab, 11, 3);
        var rawLp = SamplingReference.LogSoftmax(raw);
        var rawOrder = Enumerable.Range(0, vocab).OrderByDescending(i => raw[i]).ThenBy(i => i).Take(20).ToArray();
        foreach (var (temperature, topK, topP, minP) in new[] { (0f, 0, 1f, 0f), (1f, 0, 1f, 0f), (0.8f, 0, 1f, 0f), (0.8f, 30, 0.9f, 0.02f), (1.2f, 5, 1f, 0f) })
        {
            foreach (bool processed in new[] { false, true })
            {
                var row = new SampleRow { Temperature = temperature, TopK = topK, TopP = topP, MinP = minP, NumLogprobs = 20, ProcessedLogprobs = processed, Seed = 5, Step = 17 };
                using var lb = ctx.Upload<float>(raw);
                using var batch = new SampleBatch(ctx);
                batch.Run(lb.Address, vocab, vocab, [row]);
                string what = $"T={temperature} k={topK} p={topP} minp={minP} processed={processed}";
                Assert.AreEqual(SampleRowStatus.Ok, batch.Status[0], what);
                int token = batch.Tokens[0];
                var ids = batch.TopIds(0, 20).ToArray();
                var lps = batch.TopLogprobs(0, 20).ToArray();
                if (!processed)
                {
                    CollectionAssert.AreEqual(rawOrder, ids, what);
                    for (int i = 0; i < 20; i++)
                        Assert.AreEqual(rawLp[ids[i]], lps[i], 1e-4, $"{what}: rank {i}");
                    Assert.AreEqual(rawLp[token], batch.Logprobs[0], 1e-4, what);
                    continue;
                }

                var q = temperature == 0 ? rawLp.Select(Math.Exp).ToArray() : SamplingReference.Filtered(raw, temperature, topK, topP, minP, out _);
                var expectedOrder = Enumerable.Range(0, vocab).Where(i => q[i] > 0).OrderByDescending(i => q[i]).ThenBy(i => i).Take(20).ToArray();
                CollectionAssert.AreEqual(expectedOrder, ids.Where(i => i >= 0).ToArray(), what);
                for (int i = 0; i < 20; i++)
                {
                    if (ids[i] < 0)
                        Assert.IsTrue(float.IsNegativeInfinity(lps[i]), what);
                    else
                        Assert.AreEqual(Math.Log(q[ids[i]]), lps[i], 1e-4, $"{what}: rank {i}");
                }

                Assert.IsTrue(q[token] > 0, $"{what}: drawn token {token} is outside the filtered set");
                Assert.AreEqual(Math.Log(q[token]), batch.Logprobs[0], 1e-4, what);
            }
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void NonFiniteRow_GetsItsOwnErrorStatus(string backend)
    {
        var ctx = Backends.Context(backend);
        const int vocab = 300, rows = 5;
        var logits = Normal(vocab * rows, 3, 1);
        logits[(1 * vocab) + 17] = float.NaN;
        logits[(3 * vocab) + 250] = float.PositiveInfinity;
        logits[(4 * vocab) + 0] = float.NegativeInfinity;
        var spec = Enumerable.Range(0, rows).Select(r => new SampleRow { Temperature = r % 2 == 0 ? 0 : 0.9f, Seed = 1, NumLogprobs = 2 }).ToArray();
        var (tokens, _, status, b) = Run(ctx, logits, vocab, spec);
        b.Dispose();
        CollectionAssert.AreEqual(new[] { SampleRowStatus.Ok, SampleRowStatus.NonFinite, SampleRowStatus.Ok, SampleRowStatus.NonFinite, SampleRowStatus.NonFinite }, status);
        Assert.AreEqual(-1, tokens[1]);
        Assert.AreEqual(-1, tokens[3]);
        Assert.IsTrue(tokens[0] >= 0 && tokens[2] >= 0);

        // Every token masked (min_tokens over an all-stop vocabulary of 2).
        var (t2, _, s2, b2) = Run(ctx, [1f, 2f], 2, [new SampleRow { Temperature = 1, MinTokens = 3, StopIds = [0, 1] }]);
        b2.Dispose();
        Assert.AreEqual(SampleRowStatus.NoCandidate, s2[0]);
        Assert.AreEqual(-1, t2[0]);
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void BadArguments_AreRejectedWithClearMessages(string backend)
    {
        var ctx = Backends.Context(backend);
        using var lb = ctx.Upload<float>(new float[64]);
        using var batch = new SampleBatch(ctx);
        var e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = -1 }]));
        StringAssert.Contains(e.Message, "temperature[0]");
        e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 1 }, new SampleRow { Temperature = 1, TopP = 0 }]));
        StringAssert.Contains(e.Message, "top_p[1]");
        e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 1, TopK = -2 }]));
        StringAssert.Contains(e.Message, "top_k[0]");
        e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 1, NumLogprobs = 21 }]));
        StringAssert.Contains(e.Message, "num_logprobs[0]");
        e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 1, LogitBias = new Dictionary<int, float> { [64] = 1 } }]));
        StringAssert.Contains(e.Message, "bias id 64");
        e = Assert.ThrowsExactly<BackendException>(() => batch.Run(lb.Address, 64, 32, [new SampleRow { Temperature = 1 }]));
        StringAssert.Contains(e.Message, "row_stride");
        // Still usable.
        batch.Run(lb.Address, 64, 64, [new SampleRow { Temperature = 0 }]);
        Assert.AreEqual(0, batch.Tokens[0]);
    }

    [TestMethod]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Kernel_IsBitIdenticalToCpu_OverRandomRowsWithEveryFeature(string backend)
    {
        // The fused CUDA kernel (emulated or on a GPU) against the CPU backend: tokens, statuses,
        // logprobs and top-N ids / logprobs compared exactly, over rows that turn every feature on
        // (penalties, bias, min_tokens, min-p, top-k, top-p, greedy, raw and processed logprobs) and
        // rows with many ties (quantized logits) and a non-finite row.
        var gpu = Backends.Context(backend);
        var cpu = Backends.Reference("cpu");
        // A GPU's double log() may differ from glibc's in the last bit, so there a logprob may be one
        // float ulp off; tokens, ids and the emulator's logprobs are exact.
        int ulps = backend == "cuda" ? 1 : 0;
        // The last shape crowds thousands of ids into one histogram bin (sigma 0.05): the CPU's radix
        // refinement path against the kernel's three radix levels.
        foreach (var (vocab, sigma, rows) in new[] { (1000, 2.5, 48), (3001, 2.5, 48), (32000, 0.05, 12) })
        {
            var rng = new Random(vocab);
            var logits = Normal(vocab * rows, vocab + 1, sigma);
            var spec = new SampleRow[rows];
            for (int r = 0; r < rows; r++)
            {
                if (r % 5 == 1)
                {
                    for (int j = 0; j < vocab; j++)
                        logits[(r * vocab) + j] = MathF.Round(logits[(r * vocab) + j] * 2) / 2; // ties
                }

                var history = Enumerable.Range(0, rng.Next(0, 40)).Select(_ => rng.Next(vocab)).ToArray();
                var bias = new Dictionary<int, float>();
                for (int i = rng.Next(0, 4); i > 0; i--)
                    bias[rng.Next(vocab)] = (float)((rng.NextDouble() * 10) - 5);
                spec[r] = new SampleRow
                {
                    Temperature = r % 7 == 0 ? 0f : (float)(0.2 + (rng.NextDouble() * 1.5)),
                    TopK = rng.Next(3) == 0 ? rng.Next(1, vocab / 4) : (rng.Next(4) == 0 ? -1 : 0),
                    TopP = rng.Next(2) == 0 ? (float)(0.3 + (rng.NextDouble() * 0.7)) : 1f,
                    MinP = rng.Next(3) == 0 ? (float)(rng.NextDouble() * 0.2) : 0f,
                    RepetitionPenalty = rng.Next(2) == 0 ? (float)(0.8 + rng.NextDouble()) : 1f,
                    FrequencyPenalty = rng.Next(2) == 0 ? (float)(rng.NextDouble() - 0.3) : 0f,
                    PresencePenalty = rng.Next(2) == 0 ? (float)(rng.NextDouble() - 0.3) : 0f,
                    History = history, PromptLength = history.Length == 0 ? 0 : rng.Next(history.Length),
                    StopIds = rng.Next(2) == 0 ? [rng.Next(vocab), rng.Next(vocab)] : null, MinTokens = rng.Next(3),
                    LogitBias = bias, Seed = (ulong)rng.NextInt64(), Step = rng.Next(5),
                    NumLogprobs = rng.Next(0, 21), ProcessedLogprobs = rng.Next(2) == 0,
                };
            }

            logits[(5 * vocab) + 17] = float.NaN;
            var (tc, lc, sc, bc) = Run(cpu, logits, vocab, spec);
            var (tg, lg, sg, bg) = Run(gpu, logits, vocab, spec);
            for (int r = 0; r < rows; r++)
            {
                string what = $"vocab {vocab} row {r}";
                Assert.AreEqual(sc[r], sg[r], what);
                Assert.AreEqual(tc[r], tg[r], $"{what}: token");
                Assert.IsTrue(Math.Abs(BitConverter.SingleToInt32Bits(lc[r]) - (long)BitConverter.SingleToInt32Bits(lg[r])) <= ulps || lc[r].Equals(lg[r]), $"{what}: logprob {lc[r]} vs {lg[r]}");
                CollectionAssert.AreEqual(bc.TopIds(r, 20).ToArray(), bg.TopIds(r, 20).ToArray(), $"{what}: top ids");
                var pc = bc.TopLogprobs(r, 20).ToArray();
                var pg = bg.TopLogprobs(r, 20).ToArray();
                for (int i = 0; i < 20; i++)
                    Assert.IsTrue(Math.Abs(BitConverter.SingleToInt32Bits(pc[i]) - (long)BitConverter.SingleToInt32Bits(pg[i])) <= ulps || pc[i].Equals(pg[i]), $"{what}: top logprob {i}: {pc[i]} vs {pg[i]}");
            }

            bc.Dispose();
            bg.Dispose();
        }
    }

    [TestMethod]
    [DataRow("cpu")]
    [DataRow("simt")]
    [DataRow("cuda")]
    public void Draw_DependsOnlyOnSeedAndStep_NotOnBatchOrThreads(string backend)
    {
        Backends.Context(backend); // inconclusive when absent
        const int vocab = 32000, rows = 64, target = 37;
        var rng = new Random(4);
        var logits = Normal(vocab * rows, 21, 2.5);
        var spec = new SampleRow[rows];
        for (int r = 0; r < rows; r++)
        {
            spec[r] = new SampleRow
            {
                Temperature = (float)(0.3 + rng.NextDouble()), TopK = rng.Next(3) == 0 ? rng.Next(1, 100) : 0,
                TopP = rng.Next(2) == 0 ? (float)(0.5 + (rng.NextDouble() * 0.5)) : 1f, MinP = rng.Next(3) == 0 ? 0.05f : 0f,
                RepetitionPenalty = rng.Next(2) == 0 ? 1.2f : 1f, History = [1, 2, 3, 500, 600], PromptLength = 2,
                Seed = (ulong)rng.NextInt64(), Step = rng.Next(1000), NumLogprobs = rng.Next(4),
            };
        }

        spec[target] = new SampleRow { Temperature = 0.9f, TopP = 0.95f, Seed = 777, Step = 42, NumLogprobs = 3 };
        float[] alone = logits.AsSpan(target * vocab, vocab).ToArray();

        var results = new List<(int[] Tokens, float[] Logprobs)>();
        foreach (int threads in new[] { 1, 2 })
        {
            using var ctx = Backend.Load(backend).CreateContext(threads);
            var (t, lp, _, b) = Run(ctx, logits, vocab, spec);
            b.Dispose();
            results.Add((t, lp));
            var (ta, lpa, _, ba) = Run(ctx, alone, vocab, [spec[target]]);
            ba.Dispose();
            Assert.AreEqual(ta[0], t[target], $"{threads} threads: alone vs in a batch of {rows}");
            Assert.AreEqual(lpa[0], lp[target], $"{threads} threads: logprob alone vs in a batch");
        }

        CollectionAssert.AreEqual(results[0].Tokens, results[1].Tokens, "1 vs 2 threads");
        CollectionAssert.AreEqual(results[0].Logprobs, results[1].Logprobs, "1 vs 2 threads");
    }

    // Statistical check of the draw. For a fixed row we draw N tokens with steps 0..N-1 and compare
    // the histogram with the exact filtered distribution q (double precision, SamplingReference).
    //  - Support: any draw with q = 0 fails at once (the filters are exact, so that has probability 0).
    //  - Fit: the support is cut, in id order, into consecutive groups of expected count N q >= 25;
    //    X^2 = sum (O - E)^2 / E is then close to chi-square with df = groups - 1 under the null
    //    hypothesis. The test fails when X^2 exceeds the chi-square (1 - 1e-7) quantile
    //    (Wilson-Hilferty, z = 5.2). There are 9 cases per backend, so by the union bound the
    //    false-failure rate of the whole suite is below 9 * 1e-7 < 1e-6. A genuine error such as
    //    dropping a token with q = 0.5% shifts X^2 by about N * 0.005 = 100 (for N = 20000) far above
    //    the critical value's spread.
    private static readonly (int Vocab, int Seed, double Sigma, float T, int TopK, float TopP, float MinP)[] Cases =
    [
        (512, 1, 2.0, 1.0f, 0, 1f, 0f),
        (512, 2, 2.0, 0.7f, 50, 1f, 0f),
        (512, 3, 1.5, 1.3f, 0, 0.8f, 0f),
        (512, 4, 2.0, 1.0f, 0, 1f, 0.05f),
        (32000, 5, 3.0, 1.0f, 40, 0.9f, 0f),
        (32000, 6, 1.0, 1.0f, 0, 1f, 0f),
        (32000, 7, 3.0, 0.8f, 0, 0.95f, 0.01f),
        (32000, 8, 0.0, 1.0f, 0, 0.5f, 0f), // equal logits: the top-p boundary is one big tie (all kept)
        (32000, 10, 0.05, 1.0f, 0, 0.5f, 0f), // crowded histogram bins: the radix refinement path
    ];

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    [DataRow("cpu", 0)]
    [DataRow("cpu", 1)]
    [DataRow("cpu", 2)]
    [DataRow("cpu", 3)]
    [DataRow("cpu", 4)]
    [DataRow("cpu", 5)]
    [DataRow("cpu", 6)]
    [DataRow("cpu", 7)]
    [DataRow("cpu", 8)]
    [DataRow("simt", 1)]
    [DataRow("simt", 4)]
    [DataRow("cuda", 1)]
    [DataRow("cuda", 4)]
    public void Draws_MatchTheFilteredDistribution(string backend, int caseIndex)
    {
        var ctx = Backends.Context(backend);
        var c = Cases[caseIndex];
        var raw = Normal(c.Vocab, c.Seed, c.Sigma);
        var q = SamplingReference.Filtered(raw, c.T, c.TopK, c.TopP, c.MinP, out double margin);
        // The kernel's probabilities are float exps (relative error ~1e-7), so a prefix's mass fraction
        // is within ~5e-7 of the reference; a boundary closer than 2e-6 could legitimately differ.
        Assert.IsTrue(margin > 2e-6, $"case {caseIndex}: top-p boundary too close to call ({margin})");

        const int draws = 20000, replicas = 250;
        var logits = new float[replicas * c.Vocab];
        for (int i = 0; i < replicas; i++)
            raw.CopyTo(logits, i * c.Vocab);
        var counts = new long[c.Vocab];
        using var lb = ctx.Upload<float>(logits);
        using var batch = new SampleBatch(ctx);
        for (int start = 0; start < draws; start += replicas)
        {
            var rows = Enumerable.Range(0, replicas).Select(i => new SampleRow
            {
                Temperature = c.T, TopK = c.TopK, TopP = c.TopP, MinP = c.MinP, Seed = 0xC0FFEEUL + (ulong)caseIndex, Step = start + i,
            }).ToArray();
            batch.Run(lb.Address, c.Vocab, c.Vocab, rows);
            foreach (int t in batch.Tokens)
                counts[t]++;
        }

        for (int t = 0; t < c.Vocab; t++)
        {
            if (q[t] == 0 && counts[t] > 0)
                Assert.Fail($"case {caseIndex}: token {t} is outside the filtered set but was drawn {counts[t]} times");
        }

        var groups = new List<(double E, long O)>();
        double e = 0;
        long o = 0;
        for (int t = 0; t < c.Vocab; t++)
        {
            if (q[t] == 0)
                continue;
            e += draws * q[t];
            o += counts[t];
            if (e >= 25)
            {
                groups.Add((e, o));
                e = 0;
                o = 0;
            }
        }

        if (e > 0 && groups.Count > 0)
            groups[^1] = (groups[^1].E + e, groups[^1].O + o);
        if (groups.Count < 2)
            return; // a single group holds every draw: nothing to test beyond the support
        double x2 = groups.Sum(g => (g.O - g.E) * (g.O - g.E) / g.E);
        double critical = SamplingReference.ChiSquareCritical(groups.Count - 1);
        Assert.IsTrue(x2 <= critical, $"case {caseIndex}: X^2 = {x2:F1} over {groups.Count - 1} df exceeds {critical:F1}");
    }
}
