namespace Paged.Engine.Tests;

/// <summary>
/// vLLM's rank in the logprob entries, end to end, against <see cref="ReferenceForward"/> (a double-precision forward
/// pass sharing no code with the engine) teacher-forced on the prompt and the generated tokens: each prompt token's
/// and each sampled token's rank is 1 + the number of reference logprobs above its own. The engine computes in fp32
/// (logprob errors ~1e-6, PromptLogprobsTests): a reference logprob within 1e-4 of the token's own could fall on either
/// side, so the rank must lie between the counts with that margin; the ranks are also checked to reach far beyond
/// any top-N (up to the 300-token vocabulary), so they cannot come from the top list.
/// </summary>
[TestClass]
public sealed class LogprobRankTests
{
    private const double Margin = 1e-4;

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow("cpu")]
    [DataRow("simt")]
    public void Prompt_and_sampled_ranks_match_a_reference_forward_pass(string device)
    {
        if (!Paged.Runtime.Backend.IsAvailable(device))
            Assert.Inconclusive($"libpaged_{device}.so is not built");
        int[] prompt = RolloutModel.Prompt(new Random(8), 23);
        using var engine = RolloutModel.Engine(device, new EngineOptions { MaxNumSeqs = 4 });
        var sampling = new SamplingParams { Temperature = 1.5f, Seed = 4, MaxTokens = 14, IgnoreEos = true, Logprobs = 2, PromptLogprobs = 1 };
        var output = engine.Generate([new GenerationRequest { PromptTokenIds = prompt, Sampling = sampling }])[0];
        Assert.IsNull(output.Error, output.Error);

        int[] all = [.. prompt, .. output.TokenIds];
        var reference = new ReferenceForward(Paged.Models.Llama2cCheckpoint.Load(RolloutModel.Path1)).LogProbs(all);
        var ranks = new List<int>();
        void Check(TokenLogprobs entry, int position, string what)
        {
            var dist = reference[position - 1]; // the distribution after the tokens before `position`
            double own = dist[all[position]];
            Assert.AreEqual(all[position], entry.TokenId, what);
            int lo = 1 + dist.Count(v => v > own + Margin), hi = 1 + dist.Count(v => v > own - Margin);
            Assert.IsTrue(entry.Rank >= lo && entry.Rank <= hi, $"{device} {what}: rank {entry.Rank}, reference {lo}..{hi}");
            if (entry.Top.Count > 0 && entry.Top[0].TokenId == entry.TokenId)
                Assert.AreEqual(1, entry.Rank, $"{what}: the most likely token has rank 1");
            ranks.Add(entry.Rank);
        }

        for (int p = 1; p < prompt.Length; p++)
            Check(output.PromptLogprobs![p]!, p, $"prompt token {p}");
        for (int i = 0; i < output.TokenIds.Count; i++)
            Check(output.Logprobs![i], prompt.Length + i, $"generated token {i}");
        Assert.IsGreaterThan(20, ranks.Max(), "ranks beyond any top-N list");
    }
}
