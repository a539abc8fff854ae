using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Paged.Server.Router;

namespace Paged.Server.Tests.Router;

/// <summary>The same server hygiene as paged serve: API keys, the body limit, the concurrency limit, clear errors.</summary>
[TestClass]
public sealed class RouterHygieneTests
{
    private static void AssertError(int status, (int Status, string Body, string? ContentType) response, string code)
    {
        Assert.AreEqual(status, response.Status, response.Body);
        using var doc = JsonDocument.Parse(response.Body);
        Assert.AreEqual(code, doc.RootElement.GetProperty("error").GetProperty("code").GetString(), response.Body);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task V1RoutesNeedTheKeyAndTheInstancesGetTheUpstreamKey()
    {
        var prefill = await FakeInstance.PrefillAsync();
        var decode = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([prefill], [decode], options: new() { ApiKey = "sk-router", UpstreamApiKey = "sk-upstream" });
        using var anonymous = new HttpClient { BaseAddress = h.BaseAddress };

        using (var content = new StringContent("{\"prompt\":\"x\"}", Encoding.UTF8, "application/json"))
        using (var response = await anonymous.PostAsync("v1/completions", content))
            AssertError(401, ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), null), "invalid_api_key");
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "sk-upstream");
        using (var response = await anonymous.GetAsync("v1/models"))
            Assert.AreEqual(401, (int)response.StatusCode);
        anonymous.DefaultRequestHeaders.Authorization = null;
        using (var response = await anonymous.GetAsync("health"))
            Assert.AreEqual(200, (int)response.StatusCode, "/health needs no key");
        Assert.IsTrue(prefill.Calls.IsEmpty && decode.Calls.IsEmpty);

        var (status, text, _) = await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject());
        Assert.AreEqual(200, status, text);
        Assert.AreEqual("Bearer sk-upstream", prefill.Calls.Single().Authorization);
        Assert.AreEqual("Bearer sk-upstream", decode.Calls.Single().Authorization);
        Assert.IsTrue(decode.PollAuthorizations.All(a => a == "Bearer sk-upstream") && !decode.PollAuthorizations.IsEmpty);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task BodiesOverTheLimitAndMalformedBodiesAreRefusedBeforeAnyInstanceCall()
    {
        var prefill = await FakeInstance.PrefillAsync();
        var decode = await FakeInstance.DecodeAsync();
        await using var h = await RouterHarness.StartAsync([prefill], [decode], options: new() { MaxBodyBytes = 2048 });

        AssertError(413, await h.PostAsync("v1/completions", new JsonObject { ["prompt"] = new string('a', 4000) }), "request_too_large");
        using (var content = new StringContent("{\"prompt\": ", Encoding.UTF8, "application/json"))
        using (var response = await h.Http.PostAsync("v1/chat/completions", content))
            Assert.AreEqual(400, (int)response.StatusCode);
        using (var content = new StringContent("[1, 2]", Encoding.UTF8, "application/json"))
        using (var response = await h.Http.PostAsync("v1/completions", content))
            Assert.AreEqual(400, (int)response.StatusCode);
        using (var response = await h.Http.GetAsync("v1/nothing"))
            Assert.AreEqual(404, (int)response.StatusCode);

        Assert.IsTrue(prefill.Calls.IsEmpty && decode.Calls.IsEmpty);
        var (status, text, _) = await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject());
        Assert.AreEqual(200, status, text);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task RequestsBeyondTheConcurrencyLimitGet429()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var decode = await FakeInstance.StartAsync(async (ctx, body) =>
        {
            entered.TrySetResult();
            await release.Task;
            await FakeAnswers.DecodeAsync(ctx, body);
        });
        await using var h = await RouterHarness.StartAsync(decode: [decode], options: new() { MaxConcurrentRequests = 1 });

        var first = h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject());
        await entered.Task;
        var second = await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"y\"}")!.AsObject());
        release.SetResult();

        AssertError(429, second, "too_many_requests");
        Assert.AreEqual(200, (await first).Status);
        Assert.AreEqual(1, await h.MetricAsync("paged_router_requests_rejected_total"));
        Assert.AreEqual(1, decode.Calls.Count);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task WithNoHealthyInstanceRequestsGet503AndHealthSaysSo()
    {
        var decode = await FakeInstance.DecodeAsync();
        decode.HealthStatus = 503;
        await using var h = await RouterHarness.StartAsync([await FakeInstance.PrefillAsync()], [decode]);

        AssertError(503, await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject()), "no_healthy_instance");
        using (var health = await h.Http.GetAsync("health"))
            Assert.AreEqual(503, (int)health.StatusCode);

        decode.HealthStatus = 200;
        await h.Router.PollNowAsync();
        using (var health = await h.Http.GetAsync("health"))
            Assert.AreEqual(200, (int)health.StatusCode);
        Assert.AreEqual(200, (await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\"}")!.AsObject())).Status);
    }

    [TestMethod]
    [DataRow("127.0.0.1:8001", "http://127.0.0.1:8001/")]
    [DataRow("http://localhost:9000", "http://localhost:9000/")]
    [DataRow("https://10.0.0.2:443/", "https://10.0.0.2/")]
    public void InstanceUrlsAreParsed(string text, string expected) => Assert.AreEqual(expected, RouterOptions.ParseInstance(text).AbsoluteUri);

    [TestMethod]
    [DataRow("http://127.0.0.1:8001/v1")]
    [DataRow("ftp://127.0.0.1:8001")]
    [DataRow("http://")]
    public void BadInstanceUrlsAreClearErrors(string text)
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => RouterOptions.ParseInstance(text));
        StringAssert.Contains(e.Message, text);
    }

    [TestMethod]
    public void OptionsWithoutADecodeOrColocatedInstanceAreRefused()
    {
        var e = Assert.ThrowsExactly<ArgumentException>(() => new RouterOptions { Prefill = [new Uri("http://127.0.0.1:1/")] }.Validate());
        StringAssert.Contains(e.Message, "--decode");
        Assert.ThrowsExactly<ArgumentException>(() => new RouterOptions { Decode = [new Uri("http://127.0.0.1:1/")], Both = [new Uri("http://127.0.0.1:1/")] }.Validate());
    }
}
