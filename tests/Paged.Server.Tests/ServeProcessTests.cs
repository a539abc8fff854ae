using OpenAI.Chat;

namespace Paged.Server.Tests;

/// <summary>The real `paged serve` process: starts on a free loopback port, serves the SDK, stops on SIGTERM.</summary>
[TestClass]
public sealed class ServeProcessTests
{
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task PagedServeServesAndStopsOnSigterm()
    {
        using var serve = await PagedProcess.StartAsync(["serve", "--model", TestServer.ModelPath, "--port", "0", "--threads", "1", "--served-model-name", TestServer.ModelName, "--recent-requests", "7"],
            new Dictionary<string, string> { ["PAGED_API_KEY"] = "sk-process" });
        StringAssert.Contains(serve.ListeningLine, "API key required");

        var client = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("sk-process"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{serve.Port}/v1") }).GetChatClient(TestServer.ModelName);
        var completion = (await client.CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 })).Value;
        Assert.AreEqual(5, completion.Usage.OutputTokenCount);

        // The console and its feed: the page is public, /v1/status needs the key and keeps --recent-requests.
        StringAssert.Contains(await serve.ReadLineAsync(), $"console at http://127.0.0.1:{serve.Port}/");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{serve.Port}/") };
        using (var page = await http.GetAsync(""))
            Assert.AreEqual(200, (int)page.StatusCode);
        http.DefaultRequestHeaders.Authorization = new("Bearer", "sk-process");
        using (var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("v1/status")))
        {
            var recent = status.RootElement.GetProperty("recent_requests");
            Assert.AreEqual(7, recent.GetProperty("capacity").GetInt32());
            Assert.AreEqual(1, recent.GetProperty("items").GetArrayLength());
        }

        await serve.StopAsync();
    }
}
