using System.Text.Json;

namespace Paged.Server.Tests;

/// <summary>GET /v1/status (the console's feed) against /metrics and the responses' usage, and the console's routes.</summary>
[TestClass]
public sealed class StatusTests
{
    private static async Task<JsonElement> StatusAsync(TestServer server)
    {
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("v1/status"));
        return doc.RootElement.Clone();
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task StatusAgreesWithMetricsAndWithEachResponsesUsage()
    {
        await using var server = await TestServer.StartAsync();
        // Three prompts with a common 2-block prefix, one after another: the later ones reuse its cached blocks.
        string prefix = "Once upon a time there was a little girl named Lily who loved to play outside in the big green park with her";
        var usages = new List<JsonElement>();
        foreach (string end in new[] { " dog.", " cat.", " mom." })
        {
            var (status, body) = await server.PostAsync("v1/completions", new { prompt = prefix + end, max_tokens = 12, temperature = 0, ignore_eos = true });
            Assert.AreEqual(200, status, body.ToString());
            usages.Add(body.GetProperty("usage"));
        }

        var s = await StatusAsync(server);
        var kv = s.GetProperty("kv_cache");
        Assert.AreEqual("status", s.GetProperty("object").GetString());
        Assert.AreEqual(TestServer.ModelName, s.GetProperty("model").GetString());
        Assert.IsTrue(s.GetProperty("engine_alive").GetBoolean());
        Assert.AreEqual(await server.MetricAsync("paged_num_requests_running"), s.GetProperty("requests").GetProperty("running").GetInt32());
        Assert.AreEqual(await server.MetricAsync("paged_num_requests_waiting"), s.GetProperty("requests").GetProperty("waiting").GetInt32());
        Assert.AreEqual(await server.MetricAsync("paged_kv_cache_blocks_total"), kv.GetProperty("blocks_total").GetInt32());
        Assert.AreEqual(await server.MetricAsync("paged_kv_cache_blocks_used"), kv.GetProperty("blocks_used").GetInt32());
        Assert.AreEqual(await server.MetricAsync("paged_prompt_tokens_total"), s.GetProperty("tokens").GetProperty("prompt_total").GetInt64());
        Assert.AreEqual(await server.MetricAsync("paged_generation_tokens_total"), s.GetProperty("tokens").GetProperty("generation_total").GetInt64());
        Assert.AreEqual(await server.MetricAsync("paged_prefix_cache_queries_total"), s.GetProperty("prefix_cache").GetProperty("queries_total").GetInt64());
        Assert.AreEqual(await server.MetricAsync("paged_prefix_cache_hits_total"), s.GetProperty("prefix_cache").GetProperty("hits_total").GetInt64());
        Assert.AreEqual(await server.MetricAsync("paged_num_preemptions_total"), s.GetProperty("preemptions").GetProperty("total").GetInt64());
        Assert.AreEqual(3, s.GetProperty("requests").GetProperty("finished_total").GetProperty("length").GetInt64());
        var ttft = s.GetProperty("latency").GetProperty("ttft_s");
        Assert.AreEqual(await server.MetricAsync("paged_time_to_first_token_seconds_count"), ttft.GetProperty("count").GetInt64());
        Assert.AreEqual(await server.MetricAsync("paged_time_to_first_token_seconds_sum"), ttft.GetProperty("sum").GetDouble(), 1e-9);
        Assert.AreEqual(await server.MetricAsync("paged_inter_token_latency_seconds_count"), s.GetProperty("latency").GetProperty("itl_s").GetProperty("count").GetInt64());
        // A quantile lies inside the bucket range the histogram spans (p50 <= p90 <= p99).
        double p50 = ttft.GetProperty("p50").GetDouble(), p90 = ttft.GetProperty("p90").GetDouble(), p99 = ttft.GetProperty("p99").GetDouble();
        Assert.IsTrue(p50 > 0 && p50 <= p90 && p90 <= p99, $"{p50} {p90} {p99}");

        // The block map: one character per block; nothing in use, the prompts' full blocks kept for reuse.
        string states = kv.GetProperty("block_states").GetString()!;
        Assert.AreEqual(kv.GetProperty("blocks_total").GetInt32(), states.Length);
        Assert.AreEqual(0, states.Count(ch => ch is 'u' or 's'));
        Assert.AreEqual(kv.GetProperty("blocks_cached").GetInt32(), states.Count(ch => ch == 'c'));
        Assert.IsGreaterThanOrEqualTo(2, kv.GetProperty("blocks_cached").GetInt32(), "the shared prefix's blocks stay cached");
        Assert.AreEqual(states.Length, states.Count(ch => ch is '.' or 'c'));

        // The request table: newest first, its numbers those of each response's usage.
        var recent = s.GetProperty("recent_requests");
        Assert.AreEqual(3, recent.GetProperty("recorded_total").GetInt64());
        var items = recent.GetProperty("items").EnumerateArray().ToList();
        Assert.HasCount(3, items);
        for (int i = 0; i < 3; i++)
        {
            var item = items[2 - i];
            var usage = usages[i];
            Assert.AreEqual(usage.GetProperty("prompt_tokens").GetInt32(), item.GetProperty("prompt_tokens").GetInt32());
            Assert.AreEqual(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), item.GetProperty("cached_prompt_tokens").GetInt32());
            Assert.AreEqual(12, item.GetProperty("completion_tokens").GetInt32());
            Assert.AreEqual("length", item.GetProperty("finish_reason").GetString());
            double queue = item.GetProperty("queue_s").GetDouble(), first = item.GetProperty("ttft_s").GetDouble(), total = item.GetProperty("total_s").GetDouble();
            Assert.IsTrue(queue >= 0 && queue <= first && first <= total, $"{queue} {first} {total}");
            Assert.AreEqual((total - first) / 11, item.GetProperty("tpot_s").GetDouble(), 1e-9, "TPOT = decode time / (tokens - 1)");
        }

        Assert.AreEqual(0, items[2].GetProperty("cached_prompt_tokens").GetInt32(), "the first request found nothing cached");
        Assert.IsGreaterThanOrEqualTo(32, items[0].GetProperty("cached_prompt_tokens").GetInt32(), "the last reused the 2-block prefix");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task BlockMapShowsTheSharedPromptBlocksOfParallelSamples()
    {
        await using var server = await TestServer.StartAsync();
        server.Gate.Close();
        var request = server.PostAsync("v1/completions", new
        {
            prompt = "Once upon a time there was a little girl named Lily who loved to play outside in the big green park",
            max_tokens = 40,
            n = 2,
            ignore_eos = true,
        });
        // Each status query is answered between two steps: let one step through per query.
        JsonElement s = default;
        for (int i = 0; i < 20; i++)
        {
            var status = StatusAsync(server);
            server.Gate.Release(1);
            s = await status;
            if (s.GetProperty("kv_cache").GetProperty("blocks_shared").GetInt32() > 0)
                break;
        }

        server.Gate.Open();
        var kv = s.GetProperty("kv_cache");
        string states = kv.GetProperty("block_states").GetString()!;
        Assert.AreEqual(2, s.GetProperty("requests").GetProperty("running").GetInt32(), "both samples run");
        Assert.IsGreaterThanOrEqualTo(2, kv.GetProperty("blocks_shared").GetInt32(), "the prompt's full blocks are shared by the two samples");
        Assert.AreEqual(kv.GetProperty("blocks_shared").GetInt32(), states.Count(ch => ch == 's'));
        Assert.AreEqual(kv.GetProperty("blocks_used").GetInt32(), states.Count(ch => ch is 'u' or 's'));
        Assert.AreEqual(200, (await request).Status);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task TenantsShowTheirWorkUnderTheFairPolicy()
    {
        var engineOptions = TestServer.DefaultEngineOptions with { Policy = Paged.Engine.SchedulingPolicy.Fair, MaxNumSeqs = 2 };
        await using var server = await TestServer.StartAsync(engineOptions: engineOptions);
        server.Gate.Close();
        var load = new[] { "alice", "alice", "alice", "bob" }.Select(user => server.PostAsync("v1/completions", new
        {
            prompt = "Once upon a time",
            max_tokens = 30,
            ignore_eos = true,
            user,
        })).ToList();
        // One step per query until all four requests are in the scheduler and a step has run (two run, two wait:
        // max_num_seqs 2); a query can come before the first step, when all four still wait.
        JsonElement s = default;
        for (int i = 0; i < 20; i++)
        {
            var status = StatusAsync(server);
            server.Gate.Release(1);
            s = await status;
            if (s.GetProperty("requests").GetProperty("running").GetInt32() == 2 && s.GetProperty("requests").GetProperty("waiting").GetInt32() == 2)
                break;
        }

        server.Gate.Open();
        Assert.AreEqual("fair", s.GetProperty("policy").GetString());
        var tenants = s.GetProperty("tenants").EnumerateArray().ToDictionary(t => t.GetProperty("tenant").GetString()!, t => t);
        CollectionAssert.AreEquivalent(new[] { "alice", "bob" }, tenants.Keys.ToArray());
        int Work(string tenant) => tenants[tenant].GetProperty("running").GetInt32() + tenants[tenant].GetProperty("waiting").GetInt32();
        Assert.AreEqual(3, Work("alice"));
        Assert.AreEqual(1, Work("bob"));
        Assert.AreEqual(2, tenants.Values.Sum(t => t.GetProperty("running").GetInt32()));
        Assert.IsTrue(tenants.Values.Any(t => t.GetProperty("counter").GetDouble() > 0), "the fair policy charged the running tenants");
        foreach (var request in load)
            Assert.AreEqual(200, (await request).Status);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task StoppedEngineMakesTheStatus503()
    {
        await using var server = await TestServer.StartAsync();
        await server.Engine.ShutdownAsync(drain: false);
        using var response = await server.Http.GetAsync("v1/status");
        Assert.AreEqual(503, (int)response.StatusCode);
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "engine_unavailable");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task StatusNeedsTheApiKeyButThePageDoesNot()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "k1" });
        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress };
        using var denied = await anonymous.GetAsync("v1/status");
        Assert.AreEqual(401, (int)denied.StatusCode);
        using var page = await anonymous.GetAsync("");
        Assert.AreEqual(200, (int)page.StatusCode, "the page loads, then asks for the key");
        Assert.AreEqual("status", (await StatusAsync(server)).GetProperty("object").GetString());
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task ConsoleAssetsAreEmbeddedAndServedWithAStrictPolicy()
    {
        await using var server = await TestServer.StartAsync();
        using var page = await server.Http.GetAsync("");
        Assert.AreEqual(200, (int)page.StatusCode);
        Assert.AreEqual("text/html", page.Content.Headers.ContentType!.MediaType);
        StringAssert.Contains(page.Headers.GetValues("Content-Security-Policy").Single(), "default-src 'self'");
        StringAssert.Contains(await page.Content.ReadAsStringAsync(), "/console/app.js");
        foreach (string file in new[] { "app.js", "api.js", "playground.js", "tokens.js", "dashboard.js", "charts.js" })
        {
            using var js = await server.Http.GetAsync("console/" + file);
            Assert.AreEqual(200, (int)js.StatusCode, file);
            Assert.AreEqual("text/javascript", js.Content.Headers.ContentType!.MediaType, file);
        }

        using var css = await server.Http.GetAsync("console/console.css");
        Assert.AreEqual("text/css", css.Content.Headers.ContentType!.MediaType);
        using var again = new HttpRequestMessage(HttpMethod.Get, "console/console.css");
        again.Headers.IfNoneMatch.Add(css.Headers.ETag!);
        using var notModified = await server.Http.SendAsync(again);
        Assert.AreEqual(304, (int)notModified.StatusCode);
        using var missing = await server.Http.GetAsync("console/nothing.js");
        Assert.AreEqual(404, (int)missing.StatusCode);
        StringAssert.Contains(await missing.Content.ReadAsStringAsync(), "no console file");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task NoUiServesNoConsoleButKeepsTheStatus()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { EnableConsole = false });
        using var page = await server.Http.GetAsync("");
        Assert.AreEqual(404, (int)page.StatusCode);
        using var js = await server.Http.GetAsync("console/app.js");
        Assert.AreEqual(404, (int)js.StatusCode);
        Assert.AreEqual("status", (await StatusAsync(server)).GetProperty("object").GetString());
    }

    [TestMethod]
    public void RecentRequestsOutOfRangeIsRejected()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => new ServerOptions { RecentRequests = -1 }.Validate());
        StringAssert.Contains(e.Message, "recent requests");
    }
}
