using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Server.Tests;

/// <summary>
/// Disaggregated serving across real processes on loopback: a `paged serve --role prefill` and a
/// `--role decode` instance, the test acting as the router (the prefill step with "do_remote_decode", then the
/// original body plus the returned kv_transfer_params to the decode instance). Outputs must equal a colocated
/// `--role both` instance's, and every KV block (in use and pinned) must come back on both sides.
/// </summary>
[TestClass]
public sealed class DisaggregationProcessTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    private static string[] GoldenPrompts() =>
        [.. File.ReadLines(Path.Combine(TestServer.Shared, "golden", "stories260K_greedy.jsonl")).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("prompt").GetString()!)];

    private static JsonObject Completion(string prompt, int maxTokens, double temperature = 0, ulong? seed = null, bool stream = false)
    {
        var body = new JsonObject { ["model"] = TestServer.ModelName, ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = temperature, ["stream"] = stream };
        if (seed is ulong s)
            body["seed"] = s;
        return body;
    }

    private static JsonObject With(JsonObject body, JsonNode kvTransferParams)
    {
        var copy = body.DeepClone().AsObject();
        copy["kv_transfer_params"] = kvTransferParams.DeepClone();
        return copy;
    }

    /// <summary>The router's two steps; returns the prefill's transfer parameters and the decode's answer.</summary>
    private static async Task<(JsonObject Params, int Status, JsonObject Body)> TwoStepAsync(ServeInstance prefill, ServeInstance decode, JsonObject body, string path = "v1/completions")
    {
        var prefillBody = With(body, new JsonObject { ["do_remote_decode"] = true });
        prefillBody["stream"] = false;
        var (status, first) = await prefill.PostAsync(path, prefillBody);
        Assert.AreEqual(200, status, first.ToJsonString());
        Assert.AreEqual(1, (int)first["usage"]!["completion_tokens"]!, "the prefill step computes the first token only");
        var p = first["kv_transfer_params"]!.AsObject();
        Assert.IsTrue((bool)p["do_remote_prefill"]!);
        var (decodeStatus, answer) = await decode.PostAsync(path, With(body, p));
        return (p, decodeStatus, answer);
    }

    private static string Text(JsonObject response) => (string)response["choices"]![0]!["text"]!;

    private static async Task AssertNoBlocksHeldAsync(params ServeInstance[] instances)
    {
        foreach (var s in instances)
        {
            Assert.AreEqual(0, await s.AwaitMetricAsync("paged_kv_pinned_blocks", 0, Settle), "pinned blocks return");
            Assert.AreEqual(0, await s.AwaitMetricAsync("paged_kv_cache_blocks_used", 0, Settle), "blocks in use return to zero");
        }
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task TwoStepRequestsMatchAColocatedInstance()
    {
        var starts = new[] { ServeInstance.StartAsync("prefill"), ServeInstance.StartAsync("decode"), ServeInstance.StartAsync("both") };
        await using var prefill = await starts[0];
        await using var decode = await starts[1];
        await using var both = await starts[2];

        var health = JsonNode.Parse(await prefill.Http.GetStringAsync("health"))!;
        Assert.AreEqual("prefill", (string)health["role"]!);
        Assert.IsTrue(Guid.TryParse((string)health["instance_id"]!, out _));

        foreach (string prompt in GoldenPrompts())
        {
            var body = Completion(prompt, 24);
            var (p, status, answer) = await TwoStepAsync(prefill, decode, body);
            Assert.AreEqual(200, status, answer.ToJsonString());
            var (_, expected) = await both.PostAsync("v1/completions", body);
            Assert.AreEqual(Text(expected), Text(answer), $"greedy '{prompt}'");
            Assert.AreEqual(expected["usage"]!["completion_tokens"]!.ToJsonString(), answer["usage"]!["completion_tokens"]!.ToJsonString());
            Assert.AreEqual(expected["usage"]!["prompt_tokens"]!.ToJsonString(), answer["usage"]!["prompt_tokens"]!.ToJsonString());
            Assert.AreEqual(p["prompt_token_ids"]!.AsArray().Count, (int)answer["usage"]!["prompt_tokens"]!);
        }

        foreach (ulong seed in new ulong[] { 3, 99 })
        {
            var body = Completion("Once upon a time, there was a big dog", 32, temperature: 1.0, seed: seed);
            var (_, status, answer) = await TwoStepAsync(prefill, decode, body);
            Assert.AreEqual(200, status);
            var (_, expected) = await both.PostAsync("v1/completions", body);
            Assert.AreEqual(Text(expected), Text(answer), $"seed {seed}");
        }

        // Streaming decode: the chunks include the first token and add up to the colocated text.
        var streamed = Completion("Lily and Ben went to the park", 20, stream: true);
        var (_, sp) = await prefill.PostAsync("v1/completions", With(Completion("Lily and Ben went to the park", 20), new JsonObject { ["do_remote_decode"] = true }));
        using (var content = new StringContent(With(streamed, sp["kv_transfer_params"]!).ToJsonString(), System.Text.Encoding.UTF8, "application/json"))
        using (var response = await decode.Http.PostAsync("v1/completions", content))
        {
            string sse = await response.Content.ReadAsStringAsync();
            string text = string.Concat(sse.Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
                .Select(l => (string?)JsonNode.Parse(l[6..])!["choices"]![0]!["text"] ?? ""));
            var (_, expected) = await both.PostAsync("v1/completions", Completion("Lily and Ben went to the park", 20));
            Assert.AreEqual(Text(expected), text, "streamed");
        }

        // Chat completions take the same two steps.
        var chat = new JsonObject
        {
            ["model"] = TestServer.ModelName, ["max_tokens"] = 16, ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Tell me a story" }),
        };
        var (_, chatStatus, chatAnswer) = await TwoStepAsync(prefill, decode, chat, "v1/chat/completions");
        Assert.AreEqual(200, chatStatus);
        var (_, chatExpected) = await both.PostAsync("v1/chat/completions", chat);
        Assert.AreEqual((string)chatExpected["choices"]![0]!["message"]!["content"]!, (string)chatAnswer["choices"]![0]!["message"]!["content"]!);

        // The prefill side's prefix cache still serves shared prefixes.
        double hitsBefore = await prefill.MetricAsync("paged_prefix_cache_hits_total");
        string shared = "Once upon a time, there was a little girl named Lily. She loved to play outside with her friends in the park";
        await TwoStepAsync(prefill, decode, Completion(shared + " every day.", 8));
        await TwoStepAsync(prefill, decode, Completion(shared + " after school.", 8));
        Assert.IsGreaterThanOrEqualTo(hitsBefore + 1, await prefill.MetricAsync("paged_prefix_cache_hits_total"), "a shared prefix hits on the prefill side");

        Assert.AreEqual(0, await decode.MetricAsync("paged_kv_transfer_failures_total"));
        Assert.IsGreaterThan(0, await decode.MetricAsync("paged_kv_transfer_blocks_total"));
        await AssertNoBlocksHeldAsync(prefill, decode);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task FailedTransfersRecomputeOrFailClearlyAndFreeEverything()
    {
        static Dictionary<string, string> Fault(string mode) => new() { ["PAGED_KV_TRANSFER_FAULT"] = mode };
        var starts = new[]
        {
            ServeInstance.StartAsync("prefill", Fault("corrupt")),
            ServeInstance.StartAsync("prefill", Fault("drop")),
            ServeInstance.StartAsync("prefill", Fault("exit")),
            ServeInstance.StartAsync("prefill", null, "--kv-lease-seconds", "4"), // outlasts a cold first pull
            ServeInstance.StartAsync("decode"),
            ServeInstance.StartAsync("decode", Fault("decode-exit")),
            ServeInstance.StartAsync("decode", null, "--kv-load-failure-policy", "fail"),
        };
        await using var corrupt = await starts[0];
        await using var drop = await starts[1];
        await using var exit = await starts[2];
        await using var shortLease = await starts[3];
        await using var decode = await starts[4];
        await using var dyingDecode = await starts[5];
        await using var strict = await starts[6];

        var body = Completion("Once upon a time, there was a little girl who liked to sing", 24);
        var (_, reference) = await decode.PostAsync("v1/completions", body); // colocated fallback on the decode instance
        string expected = Text(reference);

        // A corrupted chunk, a dropped connection, a prefill killed mid-transfer: recomputed, the answer unchanged.
        foreach (var prefill in new[] { corrupt, drop, exit })
        {
            var (_, status, answer) = await TwoStepAsync(prefill, decode, body);
            Assert.AreEqual(200, status, answer.ToJsonString());
            Assert.AreEqual(expected, Text(answer));
        }

        Assert.AreEqual(3, await decode.MetricAsync("paged_kv_transfer_failures_total"), "each failed pull is counted");
        await exit.WaitForExitAsync(TimeSpan.FromSeconds(10));
        Assert.IsTrue(exit.HasExited, "the prefill instance died mid-transfer");

        // Policy fail: the same corruption is a clear 502.
        var (_, strictStatus, strictAnswer) = await TwoStepAsync(corrupt, strict, body);
        Assert.AreEqual(502, strictStatus);
        StringAssert.Contains((string)strictAnswer["error"]!["message"]!, "checksum");

        // A decode instance that dies mid-pull: the client's request fails (connection lost), the lease expires.
        var prefillBody = With(body, new JsonObject { ["do_remote_decode"] = true });
        var (_, first) = await shortLease.PostAsync("v1/completions", prefillBody);
        var (_, second) = await shortLease.PostAsync("v1/completions", prefillBody);
        await Assert.ThrowsAsync<HttpRequestException>(() => dyingDecode.PostAsync("v1/completions", With(body, second["kv_transfer_params"]!)));
        Assert.IsTrue(dyingDecode.HasExited || await dyingDecode.WaitForExitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => dyingDecode.HasExited));

        // A lease that expires before its decode step: the blocks are freed, the late decode recomputes.
        Assert.AreEqual(2, await shortLease.AwaitMetricAsync("paged_kv_lease_expired_total", 2, Settle));
        var (lateStatus, late) = await decode.PostAsync("v1/completions", With(body, first["kv_transfer_params"]!));
        Assert.AreEqual(200, lateStatus);
        Assert.AreEqual(expected, Text(late));

        await AssertNoBlocksHeldAsync(corrupt, drop, shortLease, decode, strict);
    }
}
