using System.Text.Json;

namespace Paged.Server.Tests;

[TestClass]
public sealed class UtilityTests
{
    private static TestServer s_server = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _) => s_server = await TestServer.StartAsync();

    [ClassCleanup]
    public static async Task Stop() => await s_server.DisposeAsync();

    [TestMethod]
    public async Task ModelsListsTheServedModel()
    {
        var models = (await s_server.OpenAI().GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.HasCount(1, models);
        Assert.AreEqual(TestServer.ModelName, models[0].Id);
        Assert.AreEqual("paged", models[0].OwnedBy);
    }

    [TestMethod]
    public async Task TokenizeAndDetokenizeRoundTrip()
    {
        var (status, tokens) = await s_server.PostAsync("tokenize", new { prompt = "Once upon a time, Lily" });
        Assert.AreEqual(200, status);
        int[] ids = tokens.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.AreEqual(1, ids[0], "BOS first");
        Assert.AreEqual(ids.Length, tokens.GetProperty("count").GetInt32());
        Assert.AreEqual(512, tokens.GetProperty("max_model_len").GetInt32());
        var (status2, text) = await s_server.PostAsync("detokenize", new { tokens = ids });
        Assert.AreEqual(200, status2);
        Assert.AreEqual("Once upon a time, Lily", text.GetProperty("prompt").GetString());
        var (bad, _) = await s_server.PostAsync("detokenize", new { tokens = new[] { 100000 } });
        Assert.AreEqual(400, bad);
    }

    [TestMethod]
    public async Task MetricsExposeVllmsSetWithThePagedPrefix()
    {
        var (status, _) = await s_server.PostAsync("v1/completions", new { prompt = "Count me", max_tokens = 5, temperature = 0 });
        Assert.AreEqual(200, status);
        string text = await s_server.Http.GetStringAsync("metrics");
        foreach (string name in new[]
        {
            "paged_num_requests_running", "paged_num_requests_waiting", "paged_kv_cache_usage_perc", "paged_prompt_tokens_total",
            "paged_generation_tokens_total", "paged_num_preemptions_total", "paged_prefix_cache_queries_total", "paged_prefix_cache_hits_total",
            "paged_request_success_total", "paged_time_to_first_token_seconds_bucket", "paged_inter_token_latency_seconds_bucket",
            "paged_e2e_request_latency_seconds_bucket", "paged_request_queue_time_seconds_bucket", "paged_request_prefill_time_seconds_bucket",
            "paged_request_decode_time_seconds_bucket", "paged_request_prompt_tokens_bucket", "paged_request_generation_tokens_bucket",
            "paged_iteration_tokens_total_bucket",
        })
        {
            StringAssert.Contains(text, name + "{", $"metric {name}");
        }

        Assert.IsGreaterThanOrEqualTo(5, await s_server.MetricAsync("paged_generation_tokens_total"));
        Assert.IsGreaterThanOrEqualTo(1, await s_server.MetricAsync("paged_request_success_total", "finished_reason=\"length\""));
        Assert.IsGreaterThanOrEqualTo(1, await s_server.MetricAsync("paged_e2e_request_latency_seconds_count"));
        Assert.AreEqual(1, await s_server.MetricAsync("paged_engine_alive"));
    }
}
