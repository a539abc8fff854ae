using System.Diagnostics;
using System.Text;
using Paged.Cli.ServeBench;

namespace Paged.Cli.Tests;

/// <summary>The pieces of <c>paged bench serve</c>: statistics, arrivals, workloads, SLOs and stream parsing.</summary>
[TestClass]
public sealed class ServeBenchTests
{
    [TestMethod]
    public void Percentiles_interpolate_linearly_like_numpy()
    {
        // numpy.percentile([1..10], [50, 90, 99]) = 5.5, 9.1, 9.91; population std of 1..10 = sqrt(8.25).
        var s = LatencyStats.Of([.. Enumerable.Range(1, 10).Select(i => (double)(11 - i))]);
        Assert.AreEqual(5.5, s.Median, 1e-12);
        Assert.AreEqual(9.1, s.P90, 1e-12);
        Assert.AreEqual(9.91, s.P99, 1e-12);
        Assert.AreEqual(5.5, s.Mean, 1e-12);
        Assert.AreEqual(Math.Sqrt(8.25), s.Std, 1e-12);
        Assert.AreEqual(LatencyStats.Empty, LatencyStats.Of([]));
        Assert.AreEqual(7.0, LatencyStats.Of([7.0]).P99);
    }

    [TestMethod]
    [DataRow(1.0)]
    [DataRow(0.25)]
    [DataRow(4.0)]
    public void Arrival_gaps_have_the_rate_and_the_burstiness_asked_for(double burstiness)
    {
        // Gamma(shape k, mean 1/rate): the gaps' coefficient of variation is 1/sqrt(k). 40,000 gaps put the
        // sample mean within ~1.5% (5 standard errors at k = 0.25) of the truth; the seed is fixed.
        const double rate = 8;
        var offsets = ArrivalSchedule.Offsets(40_001, rate, burstiness, new Random(7));
        var gaps = offsets.Zip(offsets.Skip(1), (a, b) => b - a).ToArray();
        Assert.IsTrue(gaps.All(g => g >= 0));
        double mean = gaps.Average();
        double cv = Math.Sqrt(gaps.Sum(g => (g - mean) * (g - mean)) / gaps.Length) / mean;
        Assert.AreEqual(1 / rate, mean, 0.015 / rate * (1 / Math.Sqrt(burstiness)) * 2);
        Assert.AreEqual(1 / Math.Sqrt(burstiness), cv, 0.05 / Math.Sqrt(burstiness));
    }

    [TestMethod]
    public void Infinite_rate_sends_everything_at_once_and_rates_parse()
    {
        Assert.IsTrue(ArrivalSchedule.Offsets(5, double.PositiveInfinity, 1, new Random(1)).All(o => o == 0));
        CollectionAssert.AreEqual(new[] { 1.5, 4, double.PositiveInfinity }, ArrivalSchedule.ParseRates("1.5, 4,inf"));
        Assert.ThrowsExactly<ArgumentException>(() => ArrivalSchedule.ParseRates("0"));
        Assert.ThrowsExactly<ArgumentException>(() => ArrivalSchedule.ParseRates("fast"));
        Assert.ThrowsExactly<ArgumentException>(() => ArrivalSchedule.Offsets(3, 1, 0, new Random(1)));
    }

    [TestMethod]
    public void Random_workload_respects_lengths_prefix_and_token_range()
    {
        var specs = ServeWorkload.Random(300, 100, 20, 0.5, 8, (10, 20), TenantMix.Parse("heavy:3,light:1"), new Random(3));
        Assert.HasCount(300, specs);
        var prefix = specs[0].PromptTokenIds![..8];
        foreach (var s in specs)
        {
            Assert.AreEqual(s.PromptTokenIds!.Length, s.PromptTokens);
            Assert.IsTrue(s.PromptTokens - 8 is >= 50 and <= 150, $"input length {s.PromptTokens - 8}");
            Assert.IsTrue(s.OutputTokens is >= 10 and <= 30, $"output length {s.OutputTokens}");
            Assert.IsTrue(s.PromptTokenIds.All(t => t is >= 10 and < 20));
            CollectionAssert.AreEqual(prefix, s.PromptTokenIds[..8]);
        }

        int heavy = specs.Count(s => s.Tenant == "heavy");
        Assert.IsTrue(heavy is > 190 and < 260, $"heavy tenant drew {heavy} of 300 at weight 3:1");
        var again = ServeWorkload.Random(300, 100, 20, 0.5, 8, (10, 20), TenantMix.Parse("heavy:3,light:1"), new Random(3));
        CollectionAssert.AreEqual(specs[17].PromptTokenIds, again[17].PromptTokenIds);
        Assert.ThrowsExactly<ArgumentException>(() => ServeWorkload.ParseTokenRange("9:3"));
        Assert.ThrowsExactly<ArgumentException>(() => TenantMix.Parse("a:0"));
    }

    [TestMethod]
    public void ShareGpt_file_gives_first_turns_as_prompts()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sharegpt-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            [{"id": "a", "conversations": [{"from": "human", "value": "Tell me a story"}, {"from": "gpt", "value": "Once upon a time there was a cat."}]},
             {"id": "b", "conversations": [{"from": "human", "value": "only one turn"}]},
             {"id": "c", "conversations": "broken"}]
            """);
        try
        {
            var specs = ServeWorkload.ShareGpt(path, 4, 0, null, new Random(1));
            Assert.IsTrue(specs.All(s => s.PromptText == "Tell me a story" && s.OutputTokens == "Once upon a time there was a cat.".Length / 4));
            Assert.IsTrue(ServeWorkload.ShareGpt(path, 2, 9, null, new Random(1)).All(s => s.OutputTokens == 9));
            File.WriteAllText(path, "{}");
            Assert.ThrowsExactly<FormatException>(() => ServeWorkload.ShareGpt(path, 1, 0, null, new Random(1)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Goodput_counts_requests_that_meet_every_objective()
    {
        var slo = Slo.Parse(["ttft:100", "tpot:10"]);
        RequestRecord R(double ttft, double latency, int tokens) => new(true, null, 5, tokens, ttft, latency, [], null);
        var records = new List<RequestRecord>
        {
            R(0.05, 0.05 + (0.009 * 9), 10), // meets both
            R(0.2, 0.2 + (0.009 * 9), 10),   // TTFT too slow
            R(0.05, 0.05 + (0.02 * 9), 10),  // TPOT too slow
            R(0.05, 0.05, 1),                // one token: no TPOT, meets TTFT
            RequestRecord.Failed("boom", 5, null),
        };
        var result = ServeBenchResult.From(records, 2.0, 4, 0, slo);
        Assert.AreEqual(4, result.Completed);
        Assert.AreEqual(1, result.Failed);
        Assert.AreEqual(2 / 2.0, result.RequestGoodput!.Value, 1e-12);
        Assert.AreEqual(31 / 2.0, result.OutputThroughput, 1e-12);
        Assert.AreEqual(9, result.TpotMs.Median, 1e-9); // TPOTs of 9, 20 and 9 ms; the one-token request has none
        Assert.IsNull(ServeBenchResult.From(records, 2.0, 4, 0, Slo.None).RequestGoodput);
        Assert.ThrowsExactly<ArgumentException>(() => Slo.Parse(["latency:5"]));
        StringAssert.Contains(ServeBenchReport.ToMarkdown([result]), "| 4 | 4 | 1 |");
        var roundTrip = ServeBenchReport.FromJson(ServeBenchReport.ToJson([result with { RequestRate = double.PositiveInfinity }]));
        Assert.AreEqual(double.PositiveInfinity, roundTrip[0].RequestRate);
        Assert.AreEqual(result.TtftMs, roundTrip[0].TtftMs);
    }

    [TestMethod]
    public async Task Stream_parser_times_chunks_and_reads_usage()
    {
        var spec = new ServeRequestSpec([1, 2, 3], null, 3, 4, "t");
        string sse = string.Join("\n\n",
            """data: {"choices":[{"index":0,"text":"a"}]}""",
            """data: {"choices":[{"index":0,"text":""}]}""",
            """data: {"choices":[{"index":0,"text":"b"}]}""",
            """data: {"choices":[{"index":0,"text":"cd"}]}""",
            """data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}""",
            "data: [DONE]") + "\n\n";
        var r = await Parse(sse, spec);
        Assert.IsTrue(r.Success, r.Error);
        Assert.AreEqual(4, r.OutputTokens);
        Assert.HasCount(2, r.Itl);
        Assert.IsTrue(r.TtftSeconds > 0 && r.LatencySeconds >= r.TtftSeconds);
        Assert.AreEqual("t", r.Tenant);

        var chat = await Parse("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n", spec);
        Assert.IsTrue(chat.Success && chat.OutputTokens == 1);
        var error = await Parse("data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"error\":{\"message\":\"engine failed\"}}\n\ndata: [DONE]\n\n", spec);
        Assert.IsFalse(error.Success);
        StringAssert.Contains(error.Error, "engine failed");
        Assert.IsFalse((await Parse("data: {\"choices\":[{\"text\":\"a\"}]}\n\n", spec)).Success);
        Assert.IsFalse((await Parse("data: [DONE]\n\n", spec)).Success);
    }

    private static Task<RequestRecord> Parse(string sse, ServeRequestSpec spec) =>
        CompletionStreamClient.ReadStreamAsync(new MemoryStream(Encoding.UTF8.GetBytes(sse)), spec, Stopwatch.GetTimestamp(), CancellationToken.None);
}
