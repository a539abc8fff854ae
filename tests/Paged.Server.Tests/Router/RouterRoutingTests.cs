using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Paged.Server.Tests.Router;

/// <summary>The two-step contract (the bodies sent to prefill and decode) and the relay of the decode's answer, byte for byte.</summary>
[TestClass]
public sealed class RouterRoutingTests
{
    private static void AssertJson(string expected, JsonNode actual) =>
        Assert.IsTrue(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\nactual   {actual.ToJsonString()}");

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task CompletionIsPrefilledThenDecodedWithTheTransferParameters()
    {
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync("p1")], [await FakeInstance.DecodeAsync()]);
        var body = JsonNode.Parse("{\"model\":\"fake-model\",\"prompt\":\"Once\",\"max_tokens\":5,\"temperature\":0,\"seed\":3}")!.AsObject();

        var (status, text, type) = await h.PostAsync("v1/completions", body);

        Assert.AreEqual(200, status, text);
        Assert.AreEqual("application/json", type);
        Assert.AreEqual(FakeAnswers.CompletionJson, text, "the decode instance's answer is relayed unchanged");
        var (p, d) = Fakes(h);
        Assert.AreEqual(1, p.Calls.Count);
        Assert.AreEqual(1, d.Calls.Count);
        var pc = p.Calls.Single();
        Assert.AreEqual("/v1/completions", pc.Path);
        AssertJson("{\"model\":\"fake-model\",\"prompt\":\"Once\",\"max_tokens\":1,\"temperature\":0,\"seed\":3,\"stream\":false,"
            + "\"kv_transfer_params\":{\"do_remote_decode\":true}}", pc.Body);
        var dc = d.Calls.Single();
        Assert.AreEqual("/v1/completions", dc.Path);
        var expectedDecode = body.DeepClone().AsObject();
        expectedDecode["kv_transfer_params"] = FakeAnswers.KvParams("p1");
        AssertJson(expectedDecode.ToJsonString(), dc.Body);
        Assert.AreEqual(1, await h.MetricAsync("paged_router_requests_total", "route=\"disagg\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task StreamingChatIsRelayedByteForByte()
    {
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync("p1")], [await FakeInstance.DecodeAsync()]);
        var body = JsonNode.Parse("{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true,"
            + "\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":7,\"max_tokens\":9,\"min_tokens\":3,\"n\":1}")!.AsObject();

        using var request = Post("v1/chat/completions", body.ToJsonString());
        using var response = await h.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.AreEqual(200, (int)response.StatusCode);
        Assert.AreEqual("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        byte[] bytes = await response.Content.ReadAsByteArrayAsync();

        CollectionAssert.AreEqual(Encoding.UTF8.GetBytes(string.Concat(FakeAnswers.ChatEvents)), bytes);
        var (p, d) = Fakes(h);
        AssertJson("{\"model\":\"fake-model\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":false,"
            + "\"max_completion_tokens\":1,\"max_tokens\":1,\"min_tokens\":1,\"n\":1,\"kv_transfer_params\":{\"do_remote_decode\":true}}", p.Calls.Single().Body);
        var expectedDecode = body.DeepClone().AsObject();
        expectedDecode["kv_transfer_params"] = FakeAnswers.KvParams("p1");
        AssertJson(expectedDecode.ToJsonString(), d.Calls.Single().Body);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task EventsAreRelayedAsTheyArriveNotAtTheEnd()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var decode = await FakeInstance.StartAsync(async (ctx, _) =>
        {
            await FakeAnswers.StartEventsAsync(ctx);
            await FakeAnswers.WriteEventAsync(ctx, FakeAnswers.CompletionEvents[0]);
            await release.Task.WaitAsync(ctx.RequestAborted);
            await FakeAnswers.WriteEventAsync(ctx, FakeAnswers.CompletionEvents[2]);
        });
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync()], [decode]);
        using var request = Post("v1/completions", "{\"prompt\":\"a\",\"stream\":true}");
        using var response = await h.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        // The first event arrives while the instance still holds the stream open.
        Assert.AreEqual(FakeAnswers.CompletionEvents[0].TrimEnd('\n'), await reader.ReadLineAsync());
        release.SetResult();
        Assert.AreEqual("", await reader.ReadLineAsync());
        Assert.AreEqual("data: [DONE]", await reader.ReadLineAsync());
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task WithoutAHealthyPrefillTheColocatedInstanceGetsTheWholeRequest()
    {
        var sick = await FakeInstance.PrefillAsync();
        sick.HealthStatus = 503;
        var both = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([sick], [await FakeInstance.DecodeAsync()], [both]);
        var body = JsonNode.Parse("{\"prompt\":\"Once\",\"max_tokens\":4}")!.AsObject();

        var (status, text, _) = await h.PostAsync("v1/completions", body);

        Assert.AreEqual(200, status, text);
        Assert.AreEqual(FakeAnswers.CompletionJson, text);
        AssertJson(body.ToJsonString(), both.Calls.Single().Body);
        Assert.IsTrue(sick.Calls.IsEmpty);
        Assert.IsTrue(Fakes(h).Decode.Calls.IsEmpty);
        Assert.AreEqual(1, await h.MetricAsync("paged_router_requests_total", "route=\"fallback_both\""));
        Assert.AreEqual(0, await h.MetricAsync("paged_router_instance_healthy", "role=\"prefill\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task APrefillThatDropsTheConnectionFallsBackWithinTheSameRequestAndCoolsDown()
    {
        var dropping = await FakeInstance.StartAsync((ctx, _) =>
        {
            ctx.Abort();
            return Task.CompletedTask;
        });
        var both = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([dropping], [await FakeInstance.DecodeAsync()], [both]);

        for (int i = 0; i < 2; i++)
        {
            var (status, text, _) = await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject());
            Assert.AreEqual(200, status, text);
        }

        Assert.AreEqual(1, dropping.Calls.Count, "the failed instance is skipped during its cooldown");
        Assert.AreEqual(2, both.Calls.Count);
        Assert.AreEqual(1, await h.MetricAsync("paged_router_upstream_errors_total", "reason=\"connect\""));
        Assert.AreEqual(2, await h.MetricAsync("paged_router_requests_total", "route=\"fallback_both\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AnInstanceNobodyListensOnIsUnhealthyFromTheStart()
    {
        var both = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync(both: [both], extraPrefill: [RouterHarness.DeadUrl()]);

        Assert.AreEqual(0, await h.MetricAsync("paged_router_instance_healthy", "role=\"prefill\""));
        Assert.AreEqual(1, await h.MetricAsync("paged_router_instance_healthy", "role=\"both\""));
        var (status, text, _) = await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject());
        Assert.AreEqual(200, status, text);
        Assert.AreEqual(1, both.Calls.Count);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task WithoutPrefillOrColocatedTheDecodeInstanceRecomputes()
    {
        var sick = await FakeInstance.PrefillAsync();
        sick.HealthStatus = 500;
        var decode = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([sick], [decode]);
        var body = JsonNode.Parse("{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":true}")!.AsObject();

        using var request = Post("v1/chat/completions", body.ToJsonString());
        using var response = await h.Http.SendAsync(request);

        Assert.AreEqual(string.Concat(FakeAnswers.ChatEvents), await response.Content.ReadAsStringAsync());
        AssertJson(body.ToJsonString(), decode.Calls.Single().Body);
        Assert.IsFalse(decode.Calls.Single().Body.ContainsKey("kv_transfer_params"));
        Assert.AreEqual(1, await h.MetricAsync("paged_router_requests_total", "route=\"fallback_decode_only\""));
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task ModelsAreRelayedFromAnInstance()
    {
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync()], [await FakeInstance.DecodeAsync()]);
        Assert.AreEqual(FakeAnswers.ModelsJson, await h.Http.GetStringAsync("v1/models"));
        using var health = await h.Http.GetAsync("health");
        Assert.AreEqual(200, (int)health.StatusCode);
    }

    internal static (FakeInstance Prefill, FakeInstance Decode) Fakes(RouterHarness h) => (h.Fakes[0], h.Fakes[1]);

    internal static HttpRequestMessage Post(string path, string json) =>
        new(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };
}
