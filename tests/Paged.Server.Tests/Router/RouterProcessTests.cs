using System.Diagnostics;
using Paged.Tests.Shared;

namespace Paged.Server.Tests.Router;

/// <summary>The real `paged router` process over fake instances: starts on a free loopback port, routes, stops on SIGTERM.</summary>
[TestClass]
public sealed class RouterProcessTests
{
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task PagedRouterRoutesAndStopsOnSigterm()
    {
        await using var prefill = await FakeInstance.PrefillAsync("cli");
        await using var decode = await FakeInstance.DecodeAsync();
        using var router = await PagedProcess.StartAsync(["router", "--prefill", prefill.BaseAddress.Authority, "--decode", decode.BaseAddress.AbsoluteUri,
            "--port", "0", "--upstream-api-key", "sk-up"], new Dictionary<string, string> { ["PAGED_API_KEY"] = "sk-cli" });
        StringAssert.Contains(router.ListeningLine, "prefill: 1, decode: 1, both: 0, API key required");

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{router.Port}/"), Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new("Bearer", "sk-cli");
        using var content = new StringContent("{\"prompt\":\"x\",\"max_tokens\":2}", System.Text.Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("v1/completions", content);
        Assert.AreEqual(FakeAnswers.CompletionJson, await response.Content.ReadAsStringAsync());
        Assert.AreEqual("cli", decode.Calls.Single().Body["kv_transfer_params"]!["remote_instance_id"]!.GetValue<string>());
        Assert.AreEqual("Bearer sk-up", prefill.Calls.Single().Authorization);

        await router.StopAsync();
    }

    [TestMethod]
    public void PagedRouterWithoutADecodeInstanceIsAClearError()
    {
        var psi = new ProcessStartInfo("dotnet");
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "paged.dll"), "router", "--prefill", "http://127.0.0.1:1", "--port", "0" })
            psi.ArgumentList.Add(a);
        var result = ChildProcess.Run(psi, TimeSpan.FromSeconds(60));
        Assert.AreEqual(2, result.ExitCode, result.Stdout);
        StringAssert.Contains(result.Stderr, "error: the router needs at least one --decode or --both instance");
    }
}
