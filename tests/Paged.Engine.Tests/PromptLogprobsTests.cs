namespace Paged.Engine.Tests;

/// <summary>
/// Prompt logprobs (vLLM's prompt_logprobs) against <see cref="ReferenceForward"/>, a plain double-precision forward
/// pass teacher-forced on the prompt, under every prefill chunk size, and with the prefix cache holding the prompt.
/// </summary>
[TestClass]
public sealed class PromptLogprobsTests
{
    /// <summary>
    /// The engine runs in fp32: dot products of length <= 128 through two layers, the final norm and a log-softmax over
    /// 300 logits (the host's log-softmax accumulates in double). Errors seen are ~1e-6; 1e-4 fails on any real mistake
    /// (an off-by-one position moves logprobs by 1e-1 and more).
    /// </summary>
    private const double Tolerance = 1e-4;

    private const int PromptLength = 41, Top = 3;

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow("cpu", 1)]
    [DataRow("cpu", 7)]
    [DataRow("cpu", 64)]
    [DataRow("simt", 7)]
    public void Prompt_logprobs_match_a_double_precision_reference(string device, int chunk)
    {
        if (!Paged.Runtime.Backend.IsAvailable(device))
            Assert.Inconclusive($"libpaged_{device}.so is not built");
        int[] prompt = RolloutModel.Prompt(new Random(5), PromptLength);
        var reference = new ReferenceForward(Paged.Models.Llama2cCheckpoint.Load(RolloutModel.Path1)).LogProbs(prompt);
        using var engine = RolloutModel.Engine(device, new EngineOptions { MaxNumSeqs = Math.Min(chunk, 4), MaxNumBatchedTokens = chunk });
        var sampling = new SamplingParams { MaxTokens = 2, PromptLogprobs = Top };
        var output = engine.Generate([new GenerationRequest { PromptTokenIds = prompt, Sampling = sampling }])[0];

        Assert.IsNull(output.Error, output.Error);
        var lps = output.PromptLogprobs;
        Assert.IsNotNull(lps);
        Assert.HasCount(PromptLength, lps);
        Assert.IsNull(lps[0], "nothing precedes the first prompt token");
        double worst = 0;
        for (int p = 1; p < PromptLength; p++)
        {
            var entry = lps[p]!;
            var expected = reference[p - 1];
            Assert.AreEqual(prompt[p], entry.TokenId);
            worst = Math.Max(worst, Math.Abs(entry.Logprob - expected[prompt[p]]));
            Assert.HasCount(Top, entry.Top);
            var best = expected.Select((v, id) => (v, id)).OrderByDescending(x => x.v).Take(Top).ToArray();
            for (int k = 0; k < Top; k++)
            {
                // The top ids agree unless the reference has a near-tie at the cut.
                Assert.AreEqual(expected[best[k].id], expected[entry.Top[k].TokenId], 2 * Tolerance, $"position {p} rank {k}");
                worst = Math.Max(worst, Math.Abs(entry.Top[k].Logprob - expected[entry.Top[k].TokenId]));
            }
        }

        Assert.IsLessThan(Tolerance, worst, $"worst prompt logprob error {worst:E2}");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void A_cached_prompt_is_recomputed_for_prompt_logprobs()
    {
        int[] prompt = RolloutModel.Prompt(new Random(6), PromptLength);
        using var engine = RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 4 });
        var plain = new GenerationRequest { PromptTokenIds = prompt, Sampling = new SamplingParams { MaxTokens = 1 } };
        var scored = plain with { Sampling = new SamplingParams { MaxTokens = 1, PromptLogprobs = 0 } };
        engine.Generate([plain]);
        var again = engine.Generate([plain])[0];
        Assert.IsGreaterThan(0, again.CachedPromptTokens, "the prompt is cached");

        var first = engine.Generate([scored])[0];
        Assert.AreEqual(0, first.CachedPromptTokens, "a request for prompt logprobs does not reuse the cache");
        var fresh = RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 4, PrefixCaching = false });
        using (fresh)
        {
            var expected = fresh.Generate([scored])[0];
            CollectionAssert.AreEqual(
                expected.PromptLogprobs!.Skip(1).Select(e => e!.Logprob).ToArray(),
                first.PromptLogprobs!.Skip(1).Select(e => e!.Logprob).ToArray(), "same values with a warm cache");
            Assert.IsTrue(first.PromptLogprobs!.Skip(1).All(e => e!.Top.Count == 0), "prompt_logprobs = 0: the token's own logprob only");
        }
    }

    [TestMethod]
    public void Prompt_logprobs_outside_0_to_20_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new SamplingParams { PromptLogprobs = 21 }.Validate());
        StringAssert.Contains(e.Message, "prompt_logprobs");
    }
}
