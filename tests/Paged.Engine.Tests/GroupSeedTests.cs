namespace Paged.Engine.Tests;

/// <summary>
/// Groups for GRPO: the n completions of one prompt report their effective seeds, and each seed alone (n = 1) gives
/// that completion's tokens and logprobs again, bit for bit, so a trainer can regenerate or audit any group member.
/// </summary>
[TestClass]
public sealed class GroupSeedTests
{
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Each_completion_reports_a_seed_that_reproduces_it()
    {
        int[] prompt = RolloutModel.Prompt(new Random(9), 33);
        var sampling = new SamplingParams { Temperature = 1f, Seed = 123, N = 4, Logprobs = 0, MaxTokens = 12, IgnoreEos = true };
        using var engine = RolloutModel.Engine("cpu", new EngineOptions { MaxNumSeqs = 8 });
        var group = engine.Generate([new GenerationRequest { PromptTokenIds = prompt, Sampling = sampling }])[0];
        Assert.HasCount(4, group.Completions);
        Assert.AreEqual(4, group.Completions.Select(c => c.Seed).Distinct().Count(), "every member has its own seed");
        Assert.AreEqual(123UL, group.Completions[0].Seed, "member 0 uses the request's seed");
        foreach (var c in group.Completions)
        {
            Assert.AreEqual(Request.DeriveSeed(123, c.Index), c.Seed);
            var alone = engine.Generate([new GenerationRequest { PromptTokenIds = prompt, Sampling = sampling with { N = 1, Seed = c.Seed } }])[0];
            CollectionAssert.AreEqual(c.TokenIds.ToArray(), alone.TokenIds.ToArray(), $"member {c.Index}");
            Assert.IsNotNull(c.Logprobs, $"member {c.Index} of the group has logprobs");
            Assert.IsNotNull(alone.Logprobs, $"member {c.Index} alone has logprobs ({alone.Error})");
            CollectionAssert.AreEqual(c.Logprobs!.Select(l => l.Logprob).ToArray(), alone.Logprobs!.Select(l => l.Logprob).ToArray(), $"member {c.Index} logprobs");
        }

        Assert.IsGreaterThan(1, group.Completions.Select(c => string.Join(",", c.TokenIds)).Distinct().Count(), "members differ");
    }
}
