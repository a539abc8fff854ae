using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Server.Tests;

/// <summary>Transfer parameters that cannot be used: a clear 400 naming kv_transfer_params, or (decode) a local recompute with the failure counted.</summary>
[TestClass]
public sealed class KvTransferErrorTests
{
    private static TestServer s_server = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _) => s_server = await TestServer.StartAsync(new ServerOptions { KvTransferTimeout = TimeSpan.FromSeconds(5) });

    [ClassCleanup]
    public static async Task Stop() => await s_server.DisposeAsync();

    private static JsonObject Body(JsonNode kv) => new()
    {
        ["model"] = TestServer.ModelName, ["prompt"] = "Once upon a time", ["max_tokens"] = 8, ["temperature"] = 0, ["kv_transfer_params"] = kv.DeepClone(),
    };

    private static async Task<(int Status, JsonElement Body)> Post(JsonObject body) =>
        await s_server.PostRawAsync("v1/completions", Encoding.UTF8.GetBytes(body.ToJsonString()));

    [TestMethod]
    public async Task UnusableParametersAre400NamingThem()
    {
        var noListener = await Post(Body(new JsonObject { ["do_remote_decode"] = true }));
        Assert.AreEqual(400, noListener.Status, noListener.Body.ToString());
        StringAssert.Contains(noListener.Body.GetProperty("error").GetProperty("message").GetString(), "no KV transfer listener");

        var missing = await Post(Body(new JsonObject { ["do_remote_prefill"] = true, ["remote_request_id"] = "kv-x" }));
        Assert.AreEqual(400, missing.Status);
        Assert.AreEqual("kv_transfer_params", missing.Body.GetProperty("error").GetProperty("param").GetString());

        var notObject = await Post(Body(JsonValue.Create("yes")!));
        Assert.AreEqual(400, notObject.Status);
        Assert.AreEqual("kv_transfer_params", notObject.Body.GetProperty("error").GetProperty("param").GetString());
    }

    [TestMethod]
    public async Task UnreachablePrefillIsRecomputedAndCounted()
    {
        var (_, expected) = await s_server.PostAsync("v1/completions", new { model = TestServer.ModelName, prompt = "Once upon a time", max_tokens = 8, temperature = 0 });
        var ids = JsonSerializer.Deserialize<int[]>((await s_server.PostAsync("tokenize", new { prompt = "Once upon a time" })).Body.GetProperty("tokens").GetRawText())!;
        var kv = new JsonObject
        {
            ["do_remote_prefill"] = true, ["remote_request_id"] = "kv-gone", ["remote_address"] = "127.0.0.1:1",
            ["block_ids"] = new JsonArray(0), ["num_computed_tokens"] = ids.Length, ["block_size"] = 16, ["num_layers"] = 5,
            ["num_kv_heads"] = 4, ["head_size"] = 8, ["kv_dtype"] = "f32", ["prompt_token_ids"] = JsonSerializer.SerializeToNode(ids), ["first_token_id"] = 1,
        };
        var (status, answer) = await Post(Body(kv));
        Assert.AreEqual(200, status, answer.ToString());
        Assert.AreEqual(expected.GetProperty("choices")[0].GetProperty("text").GetString(), answer.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.AreEqual(1, await s_server.MetricAsync("paged_kv_transfer_failures_total", "reason=\"connection\""));

        kv["num_layers"] = 6; // a geometry this engine does not have: refused before any connection
        (status, _) = await Post(Body(kv));
        Assert.AreEqual(200, status);
        Assert.AreEqual(1, await s_server.MetricAsync("paged_kv_transfer_failures_total", "reason=\"geometry\""));
        Assert.AreEqual(0, await s_server.WaitForKvBlocksFreedAsync(TimeSpan.FromSeconds(10)));
    }
}
