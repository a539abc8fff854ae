using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Paged.Server.Tests;

/// <summary>Many concurrent streaming clients, some cancelling, some malformed: every answer is complete or cleanly cancelled.</summary>
[TestClass]
public sealed class LoadTests
{
    private enum Outcome
    {
        Completed,
        Cancelled,
        Rejected,
        BadRequest,
    }

    [TestMethod]
    [Timeout(180_000, CooperativeCancellation = true)]
    public async Task TwoHundredStreamingClientsWithCancellationsAndMalformedRequests()
    {
        await using var server = await TestServer.StartAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var random = new Random(42);
        var clients = new List<Task<Outcome>>();
        for (int i = 0; i < 200; i++)
        {
            int maxTokens = random.Next(8, 64);
            int cancelAfter = random.Next(4) == 0 ? random.Next(1, 4) : -1;
            bool chat = i % 2 == 0;
            int client = i;
            clients.Add(Task.Run(() => StreamClient(server, client, chat, maxTokens, cancelAfter, bound.Token)));
        }

        for (int i = 0; i < 5; i++)
        {
            int malformed = i;
            clients.Add(Task.Run(() => Malformed(server, malformed, bound.Token)));
        }

        var outcomes = await Task.WhenAll(clients);
        Assert.IsFalse(bound.IsCancellationRequested, "the load finished within its time bound");
        Assert.AreEqual(5, outcomes.Count(o => o == Outcome.BadRequest));
        Assert.IsGreaterThan(100, outcomes.Count(o => o == Outcome.Completed));
        Assert.IsGreaterThan(10, outcomes.Count(o => o == Outcome.Cancelled));

        using var health = await server.Http.GetAsync("health");
        Assert.AreEqual(200, (int)health.StatusCode);
        Assert.AreEqual(0, await server.WaitForKvBlocksFreedAsync(TimeSpan.FromSeconds(30)), "every block came back");
        Assert.AreEqual(0, await server.MetricAsync("paged_num_requests_running"));
    }

    private static async Task<Outcome> StreamClient(TestServer server, int i, bool chat, int maxTokens, int cancelAfter, CancellationToken bound)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(bound);
        object body = chat
            ? new { messages = new[] { new { role = "user", content = $"Story number {i}." } }, max_tokens = maxTokens, stream = true, temperature = 0.8, seed = i }
            : new { prompt = $"Once upon a time {i}", max_tokens = maxTokens, stream = true, temperature = 0.8, seed = i };
        using var request = new HttpRequestMessage(HttpMethod.Post, chat ? "v1/chat/completions" : "v1/completions") { Content = JsonContent.Create(body) };
        try
        {
            using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            int status = (int)response.StatusCode;
            if (status is 429 or 503)
                return Outcome.Rejected;
            Assert.AreEqual(200, status, $"client {i}: {await response.Content.ReadAsStringAsync(cts.Token)}");
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token), Encoding.UTF8);
            int events = 0;
            string? finish = null;
            bool done = false;
            while (await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal))
                    continue;
                string data = line[6..];
                if (data == "[DONE]")
                {
                    done = true;
                    break;
                }

                var json = JsonDocument.Parse(data).RootElement;
                Assert.IsFalse(json.TryGetProperty("error", out var error), $"client {i}: {error}");
                foreach (var choice in json.GetProperty("choices").EnumerateArray())
                {
                    if (choice.GetProperty("finish_reason").ValueKind == JsonValueKind.String)
                        finish = choice.GetProperty("finish_reason").GetString();
                }

                if (++events == cancelAfter)
                {
                    await cts.CancelAsync();
                    return Outcome.Cancelled;
                }
            }

            Assert.IsTrue(done, $"client {i}: the stream ends with [DONE]");
            Assert.IsTrue(finish is "stop" or "length", $"client {i}: finish_reason {finish}");
            return Outcome.Completed;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested && !bound.IsCancellationRequested)
        {
            return Outcome.Cancelled;
        }
    }

    private static async Task<Outcome> Malformed(TestServer server, int i, CancellationToken bound)
    {
        string[] bodies = ["{\"prompt\": ", "{\"prompt\": \"x\", \"n\": \"two\"}", "{\"messages\": 3}", "[]", "{\"prompt\": \"x\", \"max_tokens\": -5}"];
        using var content = new StringContent(bodies[i], Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync(i == 2 ? "v1/chat/completions" : "v1/completions", content, bound);
        Assert.AreEqual(400, (int)response.StatusCode, bodies[i]);
        return Outcome.BadRequest;
    }
}
