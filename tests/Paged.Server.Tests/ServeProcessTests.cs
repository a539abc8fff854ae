using System.Diagnostics;
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
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "paged.dll"), "serve", "--model", TestServer.ModelPath, "--port", "0", "--threads", "1", "--served-model-name", TestServer.ModelName, "--recent-requests", "7" })
            psi.ArgumentList.Add(a);
        psi.Environment["PAGED_API_KEY"] = "sk-process";
        using var process = Process.Start(psi)!;
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.IsNotNull(line, "paged serve printed nothing");
            var match = TestServer.ListeningLine().Match(line);
            Assert.IsTrue(match.Success, line);
            StringAssert.Contains(line, "API key required");
            int port = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

            var client = new OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential("sk-process"),
                new OpenAI.OpenAIClientOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/v1") }).GetChatClient(TestServer.ModelName);
            var completion = (await client.CompleteChatAsync([new UserChatMessage("Hello")], new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0 })).Value;
            Assert.AreEqual(5, completion.Usage.OutputTokenCount);

            // The console and its feed: the page is public, /v1/status needs the key and keeps --recent-requests.
            StringAssert.Contains(await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)), $"console at http://127.0.0.1:{port}/");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            using (var page = await http.GetAsync(""))
                Assert.AreEqual(200, (int)page.StatusCode);
            http.DefaultRequestHeaders.Authorization = new("Bearer", "sk-process");
            using (var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync("v1/status")))
            {
                var recent = status.RootElement.GetProperty("recent_requests");
                Assert.AreEqual(7, recent.GetProperty("capacity").GetInt32());
                Assert.AreEqual(1, recent.GetProperty("items").GetArrayLength());
            }

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await kill.WaitForExitAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.AreEqual(0, process.ExitCode, await stderr);
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }
}
