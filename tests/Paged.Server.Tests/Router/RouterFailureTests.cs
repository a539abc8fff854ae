using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Server.Tests.Router;

/// <summary>Instance failures: each request is answered once, a started stream is never retried, a leaving client cancels upstream.</summary>
[TestClass]
public sealed class RouterFailureTests
{
    private static readonly JsonObject Prompt = JsonNode.Parse("{\"prompt\":\"x\",\"max_tokens\":3}")!.AsObject();

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task APrefill4xxGoesBackToTheClientUntouched()
    {
        const string error = "{\"error\":{\"message\":\"max_tokens must be at least 1\",\"type\":\"invalid_request_error\",\"param\":\"max_tokens\",\"code\":\"400\"}}";
        var strict = await FakeInstance.StartAsync((ctx, _) => FakeAnswers.WriteJsonAsync(ctx, 400, error));
        var other = await FakeInstance.PrefillAsync();
        var decode = await FakeInstance.DecodeAsync();
        var both = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([strict, other], [decode], [both]);

        var (status, text, _) = await h.PostAsync("v1/completions", Prompt);

        Assert.AreEqual(400, status);
        Assert.AreEqual(error, text);
        Assert.AreEqual(1, strict.Calls.Count + other.Calls.Count, "a bad request is not tried elsewhere");
        Assert.IsTrue(decode.Calls.IsEmpty && both.Calls.IsEmpty);
    }

    [TestMethod]
    [DataRow(500)]
    [DataRow(503)]
    [DataRow(200)] // an answer without kv_transfer_params
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AFailingPrefillIsReplacedByAnotherAndCoolsDown(int failingStatus)
    {
        var failing = await FakeInstance.StartAsync((ctx, _) => FakeAnswers.WriteJsonAsync(ctx, failingStatus, FakeAnswers.CompletionJson));
        var good = await FakeInstance.PrefillAsync("good");
        var decode = await FakeInstance.DecodeAsync();
        // The failing one first: round robin starts with the first listed instance.
        await using var h = await RouterHarness.StartAsync([failing, good], [decode]);

        for (int i = 0; i < 3; i++)
        {
            var (status, text, _) = await h.PostAsync("v1/completions", Prompt);
            Assert.AreEqual(200, status, text);
        }

        Assert.AreEqual(1, failing.Calls.Count);
        Assert.AreEqual(3, good.Calls.Count);
        Assert.IsTrue(decode.Calls.All(c => c.Body["kv_transfer_params"]!["remote_instance_id"]!.GetValue<string>() == "good"));
        Assert.AreEqual(3, await h.MetricAsync("paged_router_requests_total", "route=\"disagg\""));
        string reason = failingStatus == 200 ? "no_kv_transfer_params" : $"status_{failingStatus}";
        Assert.AreEqual(1, await h.MetricAsync("paged_router_upstream_errors_total", $"reason=\"{reason}\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task APrefillThatTimesOutIsReplaced()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = await FakeInstance.StartAsync(async (ctx, _) =>
        {
            using var registration = ctx.RequestAborted.Register(() => aborted.TrySetResult());
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        var good = await FakeInstance.PrefillAsync("good");
        await using var h = await RouterHarness.StartAsync([slow, good], [await FakeInstance.DecodeAsync()],
            options: new() { PrefillTimeout = TimeSpan.FromSeconds(2) });

        var (status, text, _) = await h.PostAsync("v1/completions", Prompt);

        Assert.AreEqual(200, status, text);
        Assert.AreEqual(1, good.Calls.Count);
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(20)); // the timed-out call was cancelled at the instance
        Assert.AreEqual(1, await h.MetricAsync("paged_router_upstream_errors_total", "reason=\"timeout\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task ADecodeThatDiesMidStreamEndsTheStreamWithAnErrorAndIsNotRetried()
    {
        var firstEventRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dying = await FakeInstance.StartAsync(async (ctx, _) =>
        {
            await FakeAnswers.StartEventsAsync(ctx);
            await FakeAnswers.WriteEventAsync(ctx, FakeAnswers.CompletionEvents[0]);
            await firstEventRead.Task.WaitAsync(ctx.RequestAborted);
            await FakeAnswers.WriteEventAsync(ctx, "data: {\"id\":\"cmpl-d\",\"choi"); // half an event, then the connection drops
            ctx.Abort();
        });
        var spare = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync()], [dying, spare]);

        using var request = RouterRoutingTests.Post("v1/completions", "{\"prompt\":\"x\",\"stream\":true}");
        using var response = await h.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        string first = await reader.ReadLineAsync() + "\n" + await reader.ReadLineAsync() + "\n";
        firstEventRead.SetResult();
        string text = first + await reader.ReadToEndAsync();

        Assert.AreEqual(200, (int)response.StatusCode);
        string[] events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.AreEqual(3, events.Length, text);
        Assert.AreEqual(FakeAnswers.CompletionEvents[0], events[0] + "\n\n", "what the instance sent whole is relayed (half events: EventRelayTests)");
        using var error = JsonDocument.Parse(events[1]["data: ".Length..]);
        Assert.IsTrue(error.RootElement.TryGetProperty("error", out _), text);
        Assert.AreEqual("upstream_error", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        StringAssert.Contains(error.RootElement.GetProperty("error").GetProperty("message").GetString(), dying.BaseAddress.Authority);
        Assert.AreEqual("data: [DONE]", events[2]);
        Assert.AreEqual(1, dying.Calls.Count);
        Assert.IsTrue(spare.Calls.IsEmpty, "a decode that streamed bytes is never retried");
        Assert.AreEqual(1, await h.MetricAsync("paged_router_upstream_errors_total", "reason=\"stream\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AnUnreachableDecodeIsReplacedBeforeAnythingIsSent()
    {
        var dropping = await FakeInstance.StartAsync((ctx, _) =>
        {
            ctx.Abort();
            return Task.CompletedTask;
        });
        var good = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync("p")], [dropping, good]);

        var (status, text, _) = await h.PostAsync("v1/completions", Prompt);

        Assert.AreEqual(200, status, text);
        Assert.AreEqual(FakeAnswers.CompletionJson, text);
        Assert.AreEqual(1, dropping.Calls.Count);
        Assert.AreEqual("p", good.Calls.Single().Body["kv_transfer_params"]!["remote_instance_id"]!.GetValue<string>());
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AClientThatLeavesMidStreamCancelsTheDecode()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var decode = await FakeInstance.StartAsync(async (ctx, _) =>
        {
            using var registration = ctx.RequestAborted.Register(() => aborted.TrySetResult());
            await FakeAnswers.StartEventsAsync(ctx);
            await FakeAnswers.WriteEventAsync(ctx, FakeAnswers.CompletionEvents[0]);
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync()], [decode]);

        var request = RouterRoutingTests.Post("v1/completions", "{\"prompt\":\"x\",\"stream\":true}");
        var response = await h.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.AreEqual(FakeAnswers.CompletionEvents[0].TrimEnd('\n'), await reader.ReadLineAsync());
        await entered.Task;
        reader.Dispose();
        response.Dispose();
        request.Dispose();

        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AClientThatLeavesDuringPrefillCancelsThePrefill()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var prefill = await FakeInstance.StartAsync(async (ctx, _) =>
        {
            using var registration = ctx.RequestAborted.Register(() => aborted.TrySetResult());
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        });
        var decode = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([prefill], [decode]);

        using var leave = new CancellationTokenSource();
        using var request = RouterRoutingTests.Post("v1/completions", "{\"prompt\":\"x\"}");
        var call = h.Http.SendAsync(request, leave.Token);
        await entered.Task;
        await leave.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => call);

        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.IsTrue(decode.Calls.IsEmpty, "nothing is decoded for a client that left");
    }
}
