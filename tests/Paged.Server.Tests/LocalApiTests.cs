using System.Text.Json;
using Paged.Models.Templates;

namespace Paged.Server.Tests;

/// <summary>
/// <see cref="LocalApi"/> (what `paged run-batch` runs) against the HTTP server on the same engine: the same
/// greedy choices and usage for completions and chat, the same status and error body for bad input, and
/// concurrent calls (batched together by the engine) give what each gives alone.
/// </summary>
[TestClass]
public sealed class LocalApiTests
{
    private static TestServer s_server = null!;
    private static LocalApi s_api = null!;

    [ClassInitialize]
    public static async Task Start(TestContext _)
    {
        s_server = await TestServer.StartAsync();
        s_api = new LocalApi(s_server.Engine, new ChatTemplate(ChatPrompt.DefaultTemplate), s_server.Options);
    }

    [ClassCleanup]
    public static async Task Stop() => await s_server.DisposeAsync();

    private static JsonElement Element(object body) => JsonSerializer.SerializeToElement(body);

    private static string Choices(JsonElement body) => body.GetProperty("choices").GetRawText();

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task SameAnswersAsTheServer()
    {
        var completion = new { model = TestServer.ModelName, prompt = new[] { "Once upon a time", "Zoo" }, max_tokens = 30, temperature = 0, return_token_ids = true };
        var chat = new { messages = new[] { new { role = "user", content = "Tell me a story" } }, max_tokens = 30, temperature = 0, logprobs = true, top_logprobs = 2 };
        (string Route, object Body)[] calls = [(LocalApi.CompletionsRoute, completion), (LocalApi.ChatCompletionsRoute, chat)];
        foreach (var (route, body) in calls)
        {
            var (status, http) = await s_server.PostAsync(route.TrimStart('/'), body);
            Assert.AreEqual(200, status, http.ToString());
            var local = await s_api.InvokeAsync(route, Element(body));
            Assert.AreEqual(200, local.StatusCode, local.Body.ToJsonString());
            using var doc = JsonDocument.Parse(local.Body.ToJsonString());
            Assert.AreEqual(Choices(http), Choices(doc.RootElement), route);
            // cached_tokens differs: the second call finds the first one's prompt in the prefix cache.
            foreach (string count in new[] { "prompt_tokens", "completion_tokens" })
                Assert.AreEqual(http.GetProperty("usage").GetProperty(count).GetInt32(), doc.RootElement.GetProperty("usage").GetProperty(count).GetInt32(), $"{route} {count}");
            Assert.AreEqual(http.GetProperty("object").GetString(), doc.RootElement.GetProperty("object").GetString());
            Assert.AreEqual(http.GetProperty("usage").GetProperty("completion_tokens").GetInt64(), local.CompletionTokens);
        }
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task ErrorsAreTheServersErrors()
    {
        object[] bad =
        [
            new { prompt = "Zoo", max_tokens = "ten" },
            new { prompt = Enumerable.Repeat(100, 600).ToArray() },
            new { model = "gpt-4o", prompt = "Zoo" },
            new { prompt = "Zoo", temperature = -1 },
        ];
        foreach (var body in bad)
        {
            var (status, http) = await s_server.PostAsync("v1/completions", body);
            var local = await s_api.InvokeAsync(LocalApi.CompletionsRoute, Element(body));
            Assert.AreNotEqual(200, status);
            Assert.AreEqual(status, local.StatusCode);
            Assert.AreEqual(http.GetRawText(), local.Body.ToJsonString());
        }

        var streaming = await s_api.InvokeAsync(LocalApi.CompletionsRoute, Element(new { prompt = "Zoo", stream = true }));
        Assert.AreEqual(400, streaming.StatusCode);
        Assert.AreEqual("stream", streaming.Body["error"]!["param"]!.GetValue<string>());
        var route = await s_api.InvokeAsync("/v1/embeddings", Element(new { input = "Zoo" }));
        Assert.AreEqual(404, route.StatusCode);
        var notObject = await s_api.InvokeAsync(LocalApi.ChatCompletionsRoute, Element(new[] { 1, 2 }));
        Assert.AreEqual(400, notObject.StatusCode);
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task ConcurrentCallsEqualSingleCalls()
    {
        string[] prompts = ["Once upon a time", "The cat sat", "Lily went to the park and", "Zoo", "Tom had a ball"];
        JsonElement Body(string p) => Element(new { prompt = p, max_tokens = 25, temperature = 0 });
        var alone = new List<string>();
        foreach (string p in prompts)
            alone.Add((await s_api.InvokeAsync(LocalApi.CompletionsRoute, Body(p))).Body["choices"]!.ToJsonString());
        var together = await Task.WhenAll(prompts.Select(p => s_api.InvokeAsync(LocalApi.CompletionsRoute, Body(p))));
        CollectionAssert.AreEqual(alone, together.Select(r => r.Body["choices"]!.ToJsonString()).ToList());
    }
}
