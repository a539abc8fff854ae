using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace Paged.Server.Tests.Router;

/// <summary>
/// The whole disaggregated path across real processes on loopback: `paged router` in front of a
/// `paged serve --role prefill` and a `--role decode` instance. What a client gets through the router (greedy,
/// seeded, streamed through the OpenAI SDK) equals a colocated `--role both` instance's answer, the blocks really
/// moved (transfer metrics), every block comes back, and with the prefill instance gone the router falls back to
/// the decode instance, which recomputes the prompt and still answers the same.
/// </summary>
[TestClass]
public sealed class RouterEndToEndTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    private static string[] GoldenPrompts() =>
        [.. File.ReadLines(Path.Combine(TestServer.Shared, "golden", "stories260K_greedy.jsonl")).Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("prompt").GetString()!)];

    private static JsonObject Completion(string prompt, int maxTokens, double temperature = 0, ulong? seed = null)
    {
        var body = new JsonObject { ["model"] = TestServer.ModelName, ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = temperature };
        if (seed is ulong s)
            body["seed"] = s;
        return body;
    }

    private static string Text(JsonObject response) => (string)response["choices"]![0]!["text"]!;

    private static async Task<(int Status, JsonObject Body)> PostAsync(HttpClient http, string path, JsonObject body)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    private static async Task<double> RouterMetricAsync(HttpClient router, string name, string label)
    {
        foreach (string line in (await router.GetStringAsync("metrics")).Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && line.Contains(label, StringComparison.Ordinal))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }

        return 0;
    }

    private static async Task<string> StreamChatAsync(Uri baseAddress, string prompt)
    {
        var chat = new OpenAIClient(new System.ClientModel.ApiKeyCredential("unused"),
            new OpenAIClientOptions { Endpoint = new Uri(baseAddress, "v1"), NetworkTimeout = TimeSpan.FromSeconds(60) }).GetChatClient(TestServer.ModelName);
        var text = new StringBuilder();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0 }))
        {
            foreach (var part in update.ContentUpdate)
                text.Append(part.Text);
        }

        return text.ToString();
    }

    [TestMethod]
    [Timeout(180_000, CooperativeCancellation = true)]
    public async Task ThroughTheRouterOutputsEqualAColocatedInstanceAndEveryBlockComesBack()
    {
        var starts = new[] { ServeInstance.StartAsync("prefill"), ServeInstance.StartAsync("decode"), ServeInstance.StartAsync("both") };
        await using var prefill = await starts[0];
        await using var decode = await starts[1];
        await using var both = await starts[2];
        using var router = await PagedProcess.StartAsync(["router", "--prefill", $"127.0.0.1:{prefill.Port}", "--decode", $"127.0.0.1:{decode.Port}", "--port", "0"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{router.Port}/"), Timeout = TimeSpan.FromSeconds(60) };
        string[] prompts = GoldenPrompts();
        foreach (string prompt in prompts)
        {
            var body = Completion(prompt, 24);
            var (status, routed) = await PostAsync(http, "v1/completions", body);
            var (_, expected) = await both.PostAsync("v1/completions", body);
            Assert.AreEqual(200, status, routed.ToJsonString());
            Assert.AreEqual(Text(expected), Text(routed), $"greedy '{prompt}'");
            Assert.AreEqual(expected["usage"]!.ToJsonString(), routed["usage"]!.ToJsonString());
        }

        foreach (ulong seed in new ulong[] { 7, 1234 })
        {
            var body = Completion("Once upon a time, there was a big dog", 32, temperature: 1.0, seed: seed);
            var (status, routed) = await PostAsync(http, "v1/completions", body);
            var (_, expected) = await both.PostAsync("v1/completions", body);
            Assert.AreEqual(200, status);
            Assert.AreEqual(Text(expected), Text(routed), $"seed {seed}");
        }

        string streamed = await StreamChatAsync(http.BaseAddress, "Tell me a story about a cat");
        Assert.IsFalse(string.IsNullOrEmpty(streamed));
        Assert.AreEqual(await StreamChatAsync(both.Http.BaseAddress!, "Tell me a story about a cat"), streamed, "streamed chat through the router");

        int disaggregated = prompts.Length + 3;
        Assert.AreEqual(disaggregated, await RouterMetricAsync(http, "paged_router_requests_total", "route=\"disagg\""), "every request took the prefill/decode path");
        Assert.IsGreaterThan(0, await decode.MetricAsync("paged_kv_transfer_blocks_total"), "blocks really moved");
        Assert.AreEqual(0, await decode.MetricAsync("paged_kv_transfer_failures_total"));
        Assert.AreEqual(0, await prefill.AwaitMetricAsync("paged_kv_pinned_blocks", 0, Settle), "acknowledged leases release their blocks");
        Assert.AreEqual(0, await prefill.AwaitMetricAsync("paged_kv_cache_blocks_used", 0, Settle));

        // The prefill instance goes away: the router falls back to the decode instance alone, which recomputes.
        await prefill.DisposeAsync();
        var fallbackBody = Completion(prompts[0], 24);
        var (fallbackStatus, fallback) = await PostAsync(http, "v1/completions", fallbackBody);
        var (_, fallbackExpected) = await both.PostAsync("v1/completions", fallbackBody);
        Assert.AreEqual(200, fallbackStatus, fallback.ToJsonString());
        Assert.AreEqual(Text(fallbackExpected), Text(fallback), "answered by the decode instance alone");
        Assert.AreEqual(1, await RouterMetricAsync(http, "paged_router_requests_total", "route=\"fallback_decode_only\""));
        Assert.AreEqual(0, await decode.AwaitMetricAsync("paged_kv_cache_blocks_used", 0, Settle), "the decode side frees every block");

        await router.StopAsync();
    }
}
