using System.ClientModel;
using System.Text.Json;
using OpenAI.Chat;

namespace Paged.Server.Tests;

/// <summary>Behaviour that depends on when engine steps run, driven deterministically by the gated executor.</summary>
[TestClass]
public sealed class GatedTests
{
    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task FullAdmissionQueueIs429WithRetryAfter()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { RetryAfterSeconds = 3 }, maxPending: 1);
        server.Gate.Close();
        // The first request is accepted and waits (the step that would schedule it is held at the gate).
        var first = server.PostAsync("v1/completions", new { prompt = "first", max_tokens = 2 });
        await server.Gate.Blocked.WaitAsync(TimeSpan.FromSeconds(20));

        using var response = await server.Http.PostAsync("v1/completions", System.Net.Http.Json.JsonContent.Create(new { prompt = "second", max_tokens = 2 }));
        Assert.AreEqual(429, (int)response.StatusCode);
        Assert.AreEqual("3", response.Headers.GetValues("Retry-After").Single());
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "rate_limit_error");

        server.Gate.Open();
        Assert.AreEqual(200, (await first).Status);
        Assert.AreEqual(1, await server.MetricAsync("paged_requests_rejected_total"));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task StoppedEngineIs503AndUnhealthy()
    {
        await using var server = await TestServer.StartAsync();
        await server.Engine.ShutdownAsync(drain: false);
        var (status, body) = await server.PostAsync("v1/completions", new { prompt = "anyone?", max_tokens = 2 });
        Assert.AreEqual(503, status, body.ToString());
        using var health = await server.Http.GetAsync("health");
        Assert.AreEqual(503, (int)health.StatusCode);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task CancelledStreamLeavesNoKvBlocksInUse()
    {
        await using var server = await TestServer.StartAsync();
        server.Gate.Close();
        server.Gate.Release(3);
        using var cts = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new
            {
                messages = new[] { new { role = "user", content = "A long story please." } },
                max_tokens = 400,
                ignore_eos = true,
                stream = true,
            }),
        };
        using var response = await server.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        string? first = await reader.ReadLineAsync(cts.Token);
        StringAssert.StartsWith(first, "data: {");
        // (/metrics waits for the engine's loop, which is held at the gate: read the published snapshot instead.)
        Assert.IsGreaterThan(0, server.Engine.Snapshot.Step.KvBlocksUsed, "the running request holds blocks");

        cts.Cancel();
        response.Dispose();
        // One step at a time until the request is gone: had the server missed the disconnect, the request would
        // run its 400 tokens to the end (finish reason length) instead of being aborted.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (server.Engine.Snapshot.LiveRequests > 0 && DateTime.UtcNow < deadline)
        {
            server.Gate.Release(1);
            await Task.Delay(10);
        }

        server.Gate.Open();
        Assert.AreEqual(0, await server.WaitForKvBlocksFreedAsync(TimeSpan.FromSeconds(20)));
        Assert.AreEqual(1, await server.MetricAsync("paged_request_success_total", "finished_reason=\"abort\""));
        Assert.AreEqual(0, await server.MetricAsync("paged_request_success_total", "finished_reason=\"length\""), "it was cancelled, not finished");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task ErrorAfterStreamingBeganIsAnSseErrorThenDone()
    {
        await using var server = await TestServer.StartAsync();
        server.Gate.Close();
        server.Gate.Release(2);
        var stream = server.StreamAsync("v1/completions", new { prompt = "Once", max_tokens = 50, ignore_eos = true, stream = true });
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (server.Engine.Snapshot.Counters.TokensGenerated < 2 && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        server.Gate.FailNextStep();
        server.Gate.Open();

        var events = await stream;
        Assert.AreEqual("[DONE]", events[^1]);
        var error = JsonDocument.Parse(events[^2]).RootElement.GetProperty("error");
        StringAssert.Contains(error.GetProperty("message").GetString(), "injected executor fault");
        Assert.IsTrue(events.Take(events.Count - 2).All(e => JsonDocument.Parse(e).RootElement.TryGetProperty("choices", out _)), "text chunks came first");

        // The loop survived: the next request is served.
        var (status, _) = await server.PostAsync("v1/completions", new { prompt = "Again", max_tokens = 3 });
        Assert.AreEqual(200, status);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task RequestTimeoutCancelsAndAnswers408()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { RequestTimeout = TimeSpan.FromMilliseconds(500) });
        server.Gate.Close();
        server.Gate.Release(2);
        var (status, body) = await server.PostAsync("v1/completions", new { prompt = "slow", max_tokens = 100, ignore_eos = true });
        Assert.AreEqual(408, status, body.ToString());
        server.Gate.Open();
        Assert.AreEqual(0, await server.WaitForKvBlocksFreedAsync(TimeSpan.FromSeconds(20)));
    }

    [TestMethod]
    public async Task ApiKeyIsRequiredOnV1Routes()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "sk-test-123" });
        var ok = await server.Chat().CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.AreEqual(2, ok.Value.Usage.OutputTokenCount);

        var e = await Assert.ThrowsExactlyAsync<ClientResultException>(() => server.Chat("sk-wrong").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.AreEqual(401, e.Status);
        using var anonymous = new HttpClient { BaseAddress = server.BaseAddress };
        using var models = await anonymous.GetAsync("v1/models");
        Assert.AreEqual(401, (int)models.StatusCode);
        StringAssert.Contains(await models.Content.ReadAsStringAsync(), "authentication_error");
        using var health = await anonymous.GetAsync("health");
        Assert.AreEqual(200, (int)health.StatusCode, "/health is outside /v1");
    }
}
