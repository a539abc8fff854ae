using System.Text.Json.Nodes;

namespace Paged.Server.Tests.Router;

/// <summary>Which instance gets a call: the least loaded by its /metrics, else round robin.</summary>
[TestClass]
public sealed class RouterChoiceTests
{
    private static string Metrics(int running, int waiting) =>
        "# HELP paged_num_requests_running Sequences in the running batch.\n# TYPE paged_num_requests_running gauge\n"
        + $"paged_num_requests_running{{model_name=\"m\"}} {running}\n"
        + "# TYPE paged_num_requests_waiting gauge\n"
        + $"paged_num_requests_waiting{{model_name=\"m\"}} {waiting}\n"
        + "paged_num_requests_waiting_extra 1000\n";

    private static async Task SendAsync(RouterHarness h, int count)
    {
        for (int i = 0; i < count; i++)
        {
            var (status, text, _) = await h.PostAsync("v1/completions", JsonNode.Parse("{\"prompt\":\"x\",\"max_tokens\":2}")!.AsObject());
            Assert.AreEqual(200, status, text);
        }
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task TheLeastLoadedInstanceByMetricsIsChosen()
    {
        var busyPrefill = await FakeInstance.PrefillAsync("busy");
        var idlePrefill = await FakeInstance.PrefillAsync("idle");
        var busyDecode = await FakeInstance.DecodeAsync();
        var idleDecode = await FakeInstance.DecodeAsync();
        busyPrefill.MetricsText = Metrics(2, 3);
        idlePrefill.MetricsText = Metrics(1, 0);
        busyDecode.MetricsText = Metrics(4, 0);
        idleDecode.MetricsText = Metrics(0, 1);
        await using var h = await RouterHarness.StartAsync([busyPrefill, idlePrefill], [busyDecode, idleDecode]);
        Assert.AreEqual(5, await h.MetricAsync("paged_router_instance_load", $"instance=\"{busyPrefill.BaseAddress.AbsoluteUri.TrimEnd('/')}\""));

        // idle prefill: 1, 2, 3 (+ sent) < 5; idle decode: 1, 2, 3 < 4.
        await SendAsync(h, 3);

        Assert.AreEqual(0, busyPrefill.Calls.Count);
        Assert.AreEqual(3, idlePrefill.Calls.Count);
        Assert.AreEqual(0, busyDecode.Calls.Count);
        Assert.AreEqual(3, idleDecode.Calls.Count);
        Assert.IsTrue(idleDecode.Calls.All(c => c.Body["kv_transfer_params"]!["remote_instance_id"]!.GetValue<string>() == "idle"));

        // New readings turn the choice around.
        busyDecode.MetricsText = Metrics(0, 0);
        idleDecode.MetricsText = Metrics(9, 9);
        await h.Router.PollNowAsync();
        await SendAsync(h, 2);
        Assert.AreEqual(2, busyDecode.Calls.Count);
        Assert.AreEqual(3, idleDecode.Calls.Count);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task SentRequestsCountUntilTheNextReading()
    {
        var a = await FakeInstance.DecodeAsync();
        var b = await FakeInstance.DecodeAsync();
        a.MetricsText = Metrics(0, 0);
        b.MetricsText = Metrics(1, 1);
        await using var h = await RouterHarness.StartAsync(decode: [a, b]);

        await SendAsync(h, 6);

        // a: 0 -> 1 -> 2, tie at 2 (a's turn) -> 3; then b (2 < 3), a (tie, a's turn), b: without counting sent requests a would get all six.
        Assert.AreEqual(4, a.Calls.Count);
        Assert.AreEqual(2, b.Calls.Count);
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task WithoutMetricsTheInstancesTakeTurns()
    {
        var fakes = new[] { await FakeInstance.DecodeAsync(), await FakeInstance.DecodeAsync(), await FakeInstance.DecodeAsync() };
        var order = new List<int>();
        for (int i = 0; i < fakes.Length; i++)
        {
            int index = i;
            fakes[i].Handler = (ctx, body) =>
            {
                lock (order)
                    order.Add(index);
                return FakeAnswers.DecodeAsync(ctx, body);
            };
        }

        await using var h = await RouterHarness.StartAsync(decode: fakes);
        await SendAsync(h, 6);

        Assert.AreEqual(6, order.Count);
        CollectionAssert.AreEquivalent(new[] { 0, 1, 2 }, order.Take(3).ToArray());
        CollectionAssert.AreEqual(order.Take(3).ToArray(), order.Skip(3).ToArray(), "round robin repeats the same turn order");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public async Task AnUnhealthyInstanceIsSkippedUntilItsHealthReturns()
    {
        var a = await FakeInstance.DecodeAsync();
        var b = await FakeInstance.DecodeAsync();
        a.HealthStatus = 503;
        await using var h = await RouterHarness.StartAsync(decode: [a, b]);

        await SendAsync(h, 2);
        Assert.AreEqual(0, a.Calls.Count);
        Assert.AreEqual(2, b.Calls.Count);

        a.HealthStatus = 200;
        await h.Router.PollNowAsync();
        await SendAsync(h, 2);
        Assert.AreEqual(1, a.Calls.Count);
        Assert.AreEqual(3, b.Calls.Count);
    }
}
