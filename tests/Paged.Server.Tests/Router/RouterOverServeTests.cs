using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using Paged.Server.Router;

namespace Paged.Server.Tests.Router;

/// <summary>
/// The router in front of a real paged server (stories260K, in process) as its colocated instance: what a client
/// gets through the router equals what the server answers directly, and the prefill body the router builds is
/// one a prefill-role server accepts.
/// </summary>
[TestClass]
public sealed class RouterOverServeTests
{
    private static TestServer s_serve = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _) => s_serve = await TestServer.StartAsync();

    [ClassCleanup]
    public static async Task Stop() => await s_serve.DisposeAsync();

    private static Task<RouterHarness> RouterAsync() => RouterHarness.StartAsync(extraBoth: [s_serve.BaseAddress]);

    private static string Text(JsonNode answer) => answer["choices"]![0]!["text"]!.GetValue<string>();

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task GreedyCompletionThroughTheRouterEqualsTheServerDirectly()
    {
        await using var h = await RouterAsync();
        var body = JsonNode.Parse($"{{\"model\":\"{TestServer.ModelName}\",\"prompt\":\"Once upon a time\",\"max_tokens\":24,\"temperature\":0}}")!.AsObject();

        var (status, text, _) = await h.PostAsync("v1/completions", body);
        var (directStatus, direct) = await s_serve.PostRawAsync("v1/completions", Encoding.UTF8.GetBytes(body.ToJsonString()));

        Assert.AreEqual(200, status, text);
        Assert.AreEqual(200, directStatus);
        var routed = JsonNode.Parse(text)!;
        Assert.AreEqual(direct.GetProperty("choices")[0].GetProperty("text").GetString(), Text(routed));
        Assert.AreEqual(24, routed["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.AreEqual(1, await h.MetricAsync("paged_router_requests_total", "route=\"fallback_both\""));
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task TheSdkStreamsThroughTheRouterAsFromTheServer()
    {
        await using var h = await RouterAsync();
        static async Task<string> StreamAsync(Uri baseAddress)
        {
            var chat = new OpenAIClient(new System.ClientModel.ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(baseAddress, "v1") })
                .GetChatClient(TestServer.ModelName);
            var text = new StringBuilder();
            await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Tell me a story")], new ChatCompletionOptions { MaxOutputTokenCount = 20, Temperature = 0 }))
            {
                foreach (var part in update.ContentUpdate)
                    text.Append(part.Text);
            }

            return text.ToString();
        }

        string routed = await StreamAsync(h.BaseAddress);
        Assert.IsFalse(string.IsNullOrEmpty(routed));
        Assert.AreEqual(await StreamAsync(s_serve.BaseAddress), routed);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task TheServersErrorsReachTheClientAsTheServerSentThem()
    {
        await using var h = await RouterAsync();
        foreach (string json in new[] { "{\"prompt\":\"hi\",\"temperature\":-1}", "{\"model\":\"gpt-9\",\"prompt\":\"hi\"}" })
        {
            var (status, text, _) = await h.PostAsync("v1/completions", JsonNode.Parse(json)!.AsObject());
            var (directStatus, direct) = await s_serve.PostRawAsync("v1/completions", Encoding.UTF8.GetBytes(json));
            Assert.AreEqual(directStatus, status, text);
            Assert.AreEqual(direct.ToString(), JsonDocument.Parse(text).RootElement.ToString());
        }
    }

    [TestMethod]
    [DataRow("v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":20,\"min_tokens\":3,\"temperature\":0}")]
    [DataRow("v1/completions", "{\"prompt\":\"Once\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":20,\"min_tokens\":5,\"temperature\":0}")]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task ThePrefillBodyIsOneTheServerAcceptsAndAnswersWithOneToken(string path, string client)
    {
        var prefill = UpstreamBodies.Prefill(JsonNode.Parse(client)!.AsObject(), chat: path.Contains("chat", StringComparison.Ordinal));
        await using var prefillServer = await TestServer.StartAsync(new ServerOptions { Role = ServeRole.Prefill });

        var (status, answer) = await prefillServer.PostRawAsync(path, Encoding.UTF8.GetBytes(prefill.ToJsonString()));

        Assert.AreEqual(200, status, answer.ToString());
        Assert.AreEqual(1, answer.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.IsTrue(answer.GetProperty("kv_transfer_params").GetProperty("do_remote_prefill").GetBoolean(), "a prefill instance hands back transfer parameters");
    }
}
