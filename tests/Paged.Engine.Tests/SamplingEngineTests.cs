namespace Paged.Engine.Tests;

/// <summary>The fused sample op inside the engine: seeds, batching, preemption, logprobs, penalties, errors.</summary>
[TestClass]
public sealed class SamplingEngineTests
{
    private static LlmEngine NewEngine(EngineOptions? o = null) => LlmEngine.Create(SharedFiles.Stories260KBin, null, o ?? new EngineOptions());

    private static readonly SamplingParams Target = new()
    {
        Temperature = 0.9f, TopK = 50, TopP = 0.92f, MinP = 0.01f, RepetitionPenalty = 1.1f, FrequencyPenalty = 0.2f,
        PresencePenalty = 0.1f, Seed = 1234, MaxTokens = 48, Logprobs = 3,
    };

    private static SamplingParams RandomParams(Random r) => new()
    {
        Temperature = (float)(r.NextDouble() * 1.5), TopK = r.Next(3) == 0 ? r.Next(1, 60) : 0,
        TopP = r.Next(2) == 0 ? (float)(0.5 + (r.NextDouble() * 0.5)) : 1f, MinP = r.Next(3) == 0 ? 0.05f : 0f,
        RepetitionPenalty = r.Next(2) == 0 ? 1.3f : 1f, PresencePenalty = r.Next(2) == 0 ? 0.5f : 0f,
        Seed = r.Next(2) == 0 ? (ulong)r.NextInt64() : null, MaxTokens = r.Next(1, 60), Logprobs = r.Next(3) == 0 ? r.Next(0, 21) : null,
    };

    [TestMethod]
    public void SameSeed_SameTokens_AloneInABatchOf64AndAfterPreemption()
    {
        const string prompt = "Once upon a time, there was a little";
        RequestOutput alone;
        using (var engine = NewEngine())
            alone = engine.Generate([(prompt, Target)])[0];
        Assert.AreEqual(48, alone.TokenIds.Count);

        var r = new Random(9);
        string[] others = ["The cat", "Lily wanted", "One day", "Tom and Sam went", "Zoo", "A big red ball"];
        var batch = Enumerable.Range(0, 64).Select(i => (others[i % others.Length], RandomParams(r))).ToList();
        batch[29] = (prompt, Target);
        using (var engine = NewEngine())
        {
            var results = engine.Generate(batch);
            CollectionAssert.AreEqual(alone.TokenIds.ToArray(), results[29].TokenIds.ToArray(), "in a batch of 64");
            CollectionAssert.AreEqual(alone.Logprobs!.Select(l => l.Logprob).ToArray(), results[29].Logprobs!.Select(l => l.Logprob).ToArray());
        }

        // Few KV blocks: sequences are preempted (recompute) and resumed; the step counter is the number
        // of tokens generated, so the resumed draws are the same.
        using (var engine = NewEngine(new EngineOptions { NumKvBlocks = 12, BlockSize = 16, MaxNumSeqs = 8 }))
        {
            var small = Enumerable.Range(0, 8).Select(i => (i == 3 ? prompt : others[i % others.Length], i == 3 ? Target : Target with { Seed = (ulong)i, MaxTokens = 48 })).ToList();
            var results = engine.Generate(small);
            Assert.IsTrue(engine.Counters.Preemptions > 0, "the setup must preempt");
            CollectionAssert.AreEqual(alone.TokenIds.ToArray(), results[3].TokenIds.ToArray(), "after preemption");
        }
    }

    [TestMethod]
    public void Logprobs_OnePerTokenWithTopAlternatives_GreedyTokenIsTheTopOne()
    {
        using var engine = NewEngine();
        var o = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 20, Logprobs = 5 })])[0];
        Assert.IsNotNull(o.Logprobs);
        Assert.AreEqual(o.TokenIds.Count, o.Logprobs.Count);
        for (int i = 0; i < o.TokenIds.Count; i++)
        {
            var l = o.Logprobs[i];
            Assert.AreEqual(o.TokenIds[i], l.TokenId);
            Assert.AreEqual(5, l.Top.Count);
            Assert.AreEqual(l.TokenId, l.Top[0].TokenId, "greedy picks the most likely raw token");
            Assert.AreEqual(l.Logprob, l.Top[0].Logprob);
            Assert.IsTrue(l.Logprob <= 0);
            for (int k = 1; k < 5; k++)
                Assert.IsTrue(l.Top[k - 1].Logprob >= l.Top[k].Logprob);
        }

        var none = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 3 })])[0];
        Assert.IsNull(none.Logprobs);
    }

    [TestMethod]
    public void MinTokens_MasksEosUntilReached_LogitBiasApplies()
    {
        using var engine = NewEngine();
        int eos = engine.Config.StopTokenIds[0];
        var bias = new Dictionary<int, float> { [eos] = 100f };
        var early = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 20, LogitBias = bias })])[0];
        CollectionAssert.AreEqual(new[] { eos }, early.TokenIds.ToArray(), "a +100 bias on EOS ends at once");
        var o = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 20, LogitBias = bias, MinTokens = 5 })])[0];
        Assert.AreEqual(6, o.TokenIds.Count);
        Assert.AreEqual(eos, o.TokenIds[^1]);
        Assert.IsFalse(o.TokenIds.Take(5).Any(t => engine.Config.StopTokenIds.Contains(t)));
        Assert.AreEqual(FinishReason.Stop, o.FinishReason);
    }

    [TestMethod]
    public void NonFiniteLogits_FinishTheRequestWithAnError_OthersContinue()
    {
        using var engine = NewEngine();
        // A repetition penalty of 1e-38 divides the prompt tokens' positive logits into +inf.
        var bad = new SamplingParams { Temperature = 1, RepetitionPenalty = 1e-38f, MaxTokens = 10, Seed = 1 };
        var results = engine.Generate([("Once upon a time", bad), ("Once upon a time", new SamplingParams { MaxTokens = 10 })]);
        Assert.AreEqual(FinishReason.Error, results[0].FinishReason);
        Assert.IsNotNull(results[0].Error);
        StringAssert.Contains(results[0].Error, "infinite");
        Assert.AreEqual(0, results[0].TokenIds.Count);
        Assert.AreEqual(FinishReason.Length, results[1].FinishReason);
        Assert.AreEqual(10, results[1].TokenIds.Count);
        Assert.IsFalse(engine.HasUnfinishedRequests);
    }

    [TestMethod]
    [DataRow("min_p", 1.5f, 1f, 0f, 0f, 0, 0, 1000)]
    [DataRow("min_p", -0.1f, 1f, 0f, 0f, 0, 0, 1000)]
    [DataRow("repetition_penalty", 0f, 0f, 0f, 0f, 0, 0, 1000)]
    [DataRow("frequency_penalty", 0f, 1f, 2.5f, 0f, 0, 0, 1000)]
    [DataRow("presence_penalty", 0f, 1f, 0f, -3f, 0, 0, 1000)]
    [DataRow("logprobs", 0f, 1f, 0f, 0f, 21, 0, 1000)]
    [DataRow("min_tokens", 0f, 1f, 0f, 0f, 0, 50, 1000)]
    [DataRow("logit_bias", 0f, 1f, 0f, 0f, 0, 0, 512)]
    [DataRow("logit_bias", 0f, 1f, 0f, 0f, 0, 0, -1)]
    public void BadSamplingParameters_AreRejectedBeforeTheEngine(string name, float minP, float rep, float freq, float pres, int logprobs, int minTokens, int biasId)
    {
        using var engine = NewEngine();
        var bad = new SamplingParams
        {
            MinP = minP, RepetitionPenalty = rep, FrequencyPenalty = freq, PresencePenalty = pres, Logprobs = logprobs, MinTokens = minTokens,
            MaxTokens = 10, LogitBias = biasId == 1000 ? null : new Dictionary<int, float> { [biasId] = 1f },
        };
        var e = Assert.ThrowsExactly<ArgumentException>(() => engine.AddRequest("Once upon a time", bad));
        StringAssert.Contains(e.Message, name);
        Assert.IsFalse(engine.HasUnfinishedRequests);
    }
}
