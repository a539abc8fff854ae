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
        using var serve = await PagedProcess.StartAsync(["serve", "--model", TestServer.ModelPath, "--port", "0", "--threads", "1", "--served-model-name", TestServer.ModelName],
            new Dictionary<string, string> { ["PAGED_API_KEY"] = "sk-process" });
        StringAssert.Contains(serve.ListeningLine, "API key required");

        var client = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("sk-process"),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{serve.Port}/v1") }).GetChatClient(TestServer.ModelName);
        var completion = (await client.CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 })).Value;
        Assert.AreEqual(5, completion.Usage.OutputTokenCount);

        await serve.StopAsync();
    }
}
