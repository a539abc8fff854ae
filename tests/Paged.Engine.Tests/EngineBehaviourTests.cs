namespace Paged.Engine.Tests;

/// <summary>Request validation, sampling reproducibility, stop rules and KV accounting on stories260K.</summary>
[TestClass]
public sealed class EngineBehaviourTests
{
    private static LlmEngine NewEngine(EngineOptions? o = null) => LlmEngine.Create(SharedFiles.Stories260KBin, null, o ?? new EngineOptions());

    [TestMethod]
    [DataRow(0f, 0, 1f, 0, "max_tokens")]
    [DataRow(0f, 0, 1f, -5, "max_tokens")]
    [DataRow(-0.5f, 0, 1f, 10, "temperature")]
    [DataRow(float.NaN, 0, 1f, 10, "temperature")]
    [DataRow(1f, -2, 1f, 10, "top_k")]
    [DataRow(1f, 0, 0f, 10, "top_p")]
    [DataRow(1f, 0, 1.5f, 10, "top_p")]
    public void ImpossibleSamplingParameters_AreRejectedAndEngineKeepsWorking(float temperature, int topK, float topP, int maxTokens, string name)
    {
        using var engine = NewEngine();
        var bad = new SamplingParams { Temperature = temperature, TopK = topK, TopP = topP, MaxTokens = maxTokens };
        var e = Assert.ThrowsExactly<ArgumentException>(() => engine.AddRequest("Once upon a time", bad));
        StringAssert.Contains(e.Message, name);
        Assert.IsFalse(engine.HasUnfinishedRequests);
        var ok = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 5 })]);
        Assert.AreEqual(5, ok[0].TokenIds.Count);
    }

    [TestMethod]
    public void PromptLongerThanContext_IsRejectedWithItsLength()
    {
        using var engine = NewEngine();
        var ids = new int[engine.MaxContext];
        Array.Fill(ids, 300);
        ids[0] = 1;
        var e = Assert.ThrowsExactly<ArgumentException>(() => engine.AddRequest("long", ids, new SamplingParams()));
        StringAssert.Contains(e.Message, $"{engine.MaxContext} tokens");
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
        Assert.AreEqual(3, engine.Generate([("Zoo", new SamplingParams { MaxTokens = 3 })])[0].TokenIds.Count);
    }

    [TestMethod]
    public void GenerationStopsAtTheContextLimit()
    {
        using var engine = NewEngine();
        var ids = Enumerable.Repeat(300, engine.MaxContext - 3).ToArray();
        ids[0] = 1;
        engine.AddRequest("", ids, new SamplingParams { MaxTokens = 100, IgnoreEos = true });
        RequestOutput? last = null;
        while (engine.HasUnfinishedRequests)
        {
            var outputs = engine.Step();
            if (outputs.Count > 0)
                last = outputs[^1];
        }
        Assert.IsNotNull(last);
        Assert.AreEqual(FinishReason.Length, last.FinishReason);
        Assert.AreEqual(3, last.TokenIds.Count);
    }

    [TestMethod]
    public void SeededSampling_IsReproducibleAloneAndInABatch()
    {
        var p = new SamplingParams { Temperature = 0.9f, TopK = 40, TopP = 0.95f, Seed = 42, MaxTokens = 40 };
        using var engine = NewEngine();
        var alone = engine.Generate([("Once upon a time", p)])[0];
        var batch = engine.Generate([
            ("The cat sat", p with { Seed = 1 }),
            ("Once upon a time", p),
            ("Zoo", p with { Seed = null }),
            ("Lily and Tom", p with { Temperature = 1.5f, Seed = 7 }),
        ]);
        CollectionAssert.AreEqual(alone.TokenIds.ToArray(), batch[1].TokenIds.ToArray());
        var other = engine.Generate([("Once upon a time", p with { Seed = 43 })])[0];
        CollectionAssert.AreNotEqual(alone.TokenIds.ToArray(), other.TokenIds.ToArray(), "another seed gives another story");
    }

    [TestMethod]
    public void TopKOne_EqualsGreedy()
    {
        using var engine = NewEngine();
        var greedy = engine.Generate([("One day, a big dog", new SamplingParams { MaxTokens = 50 })])[0];
        var topk1 = engine.Generate([("One day, a big dog", new SamplingParams { MaxTokens = 50, Temperature = 2f, TopK = 1, Seed = 5 })])[0];
        CollectionAssert.AreEqual(greedy.TokenIds.ToArray(), topk1.TokenIds.ToArray());
    }

    [TestMethod]
    public void StopString_CutsTheTextBeforeIt()
    {
        using var engine = NewEngine();
        var full = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 60 })])[0];
        int at = full.Text.IndexOf("Lily", StringComparison.Ordinal);
        Assert.IsGreaterThan(0, at, "the reference story mentions Lily");
        var stopped = engine.Generate([("Once upon a time", new SamplingParams { MaxTokens = 60, Stop = ["Lily"] })])[0];
        Assert.AreEqual(full.Text[..at], stopped.Text);
        Assert.AreEqual(FinishReason.Stop, stopped.FinishReason);
        Assert.IsLessThan(full.TokenIds.Count, stopped.TokenIds.Count);
    }

    [TestMethod]
    public void StreamedDeltas_ConcatenateToTheFinalText()
    {
        using var engine = NewEngine();
        long id = engine.AddRequest("Tim had a red ball. He", new SamplingParams { MaxTokens = 80 });
        var text = new System.Text.StringBuilder();
        RequestOutput? last = null;
        while (engine.HasUnfinishedRequests)
        {
            foreach (var o in engine.Step().Where(o => o.RequestId == id))
            {
                text.Append(o.TextDelta);
                last = o;
            }
        }

        Assert.IsNotNull(last);
        Assert.AreEqual(last.Text, text.ToString());
    }

    [TestMethod]
    public void Abort_FreesBlocksImmediately()
    {
        using var engine = NewEngine();
        long a = engine.AddRequest("Once upon a time", new SamplingParams { MaxTokens = 200 });
        engine.AddRequest("Zoo", new SamplingParams { MaxTokens = 200 });
        for (int i = 0; i < 5; i++)
            engine.Step();
        int usedBefore = engine.NumKvBlocks - engine.NumFreeKvBlocks;
        Assert.IsTrue(engine.Abort(a));
        Assert.IsLessThan(usedBefore, engine.NumKvBlocks - engine.NumFreeKvBlocks);
        Assert.IsFalse(engine.Abort(a));
        while (engine.HasUnfinishedRequests)
            engine.Step();
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
    }
}
