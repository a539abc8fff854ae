using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Paged.Engine;
using static Microsoft.Playwright.Assertions;

namespace Paged.Server.Tests;

/// <summary>The web console in a real headless Chromium against an in-process server over stories260K.</summary>
[TestClass]
public sealed class ConsoleBrowserTests
{
    private const int TestTimeoutMs = 180_000;

    /// <summary>Loads the console and waits until it has listed the served model (its first API call).</summary>
    private static async Task OpenAsync(IPage page, TestServer server)
    {
        await page.GotoAsync(server.BaseAddress.ToString());
        await Expect(page.Locator("#model option")).ToHaveTextAsync(TestServer.ModelName);
    }

    [TestMethod]
    [Timeout(TestTimeoutMs, CooperativeCancellation = true)]
    public async Task PageLoadsWithoutConsoleErrorsAndFetchesNothingElsewhere()
    {
        await using var server = await TestServer.StartAsync();
        await using var browser = await ConsoleBrowser.LaunchAsync();
        var page = browser.Page;
        var foreign = new List<string>();
        page.Request += (_, r) =>
        {
            if (!r.Url.StartsWith(server.BaseAddress.ToString(), StringComparison.Ordinal) && !r.Url.StartsWith("data:", StringComparison.Ordinal))
                foreign.Add(r.Url);
        };

        await OpenAsync(page, server);
        await Expect(page.Locator("#server-state")).ToHaveClassAsync(new Regex("ok"));

        // Tabs by keyboard: the dashboard shows its tiles and a block map cell per KV block.
        await page.Locator("#tab-playground").FocusAsync();
        await page.Keyboard.PressAsync("ArrowRight");
        await Expect(page.Locator("#panel-dashboard")).ToBeVisibleAsync();
        await Expect(page.Locator("#tab-dashboard")).ToHaveAttributeAsync("aria-selected", "true");
        await Expect(page.Locator("#tiles .tile").First).ToBeVisibleAsync();
        await Expect(page.Locator("#blockmap-caption")).ToContainTextAsync($"{server.Engine.NumKvBlocks} blocks");
        await page.Keyboard.PressAsync("ArrowRight");
        await Expect(page.Locator("#panel-requests")).ToBeVisibleAsync();

        CollectionAssert.AreEqual(Array.Empty<string>(), browser.Errors, string.Join("\n", browser.Errors));
        CollectionAssert.AreEqual(Array.Empty<string>(), foreign, "the console fetched from elsewhere");
    }

    [TestMethod]
    [Timeout(TestTimeoutMs, CooperativeCancellation = true)]
    public async Task ChatStreamsTokensIntoThePageWithLogprobsOnHover()
    {
        await using var server = await TestServer.StartAsync();
        await using var browser = await ConsoleBrowser.LaunchAsync();
        var page = browser.Page;
        await OpenAsync(page, server);
        await page.FillAsync("#temperature", "0");
        await page.FillAsync("#max_tokens", "48");

        // Three steps only: the reply must show its first tokens while the request is still running.
        server.Gate.Close();
        server.Gate.Release(3);
        await page.FillAsync("#prompt", "Tell me about a cat.");
        await page.ClickAsync("#send");
        var reply = page.Locator("#transcript .msg.assistant .generated");
        await Expect(reply.Locator(".tok").First).ToBeVisibleAsync();
        await Expect(page.Locator("#stop-button")).ToBeEnabledAsync();
        Assert.IsFalse((await page.Locator("#run-stats").TextContentAsync())!.Contains("finish", StringComparison.Ordinal), "the request is still running");

        server.Gate.Open();
        await Expect(page.Locator("#run-stats")).ToContainTextAsync("finish:");
        StringAssert.Contains(await page.Locator("#run-stats").TextContentAsync(), "TTFT");

        // Streamed text = what the same greedy request returns in one piece.
        var (status, body) = await server.PostAsync("v1/chat/completions", new
        {
            model = TestServer.ModelName,
            messages = new[] { new { role = "user", content = "Tell me about a cat." } },
            temperature = 0,
            max_tokens = 48,
        });
        Assert.AreEqual(200, status, body.ToString());
        string expected = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.AreEqual(expected, await reply.TextContentAsync());

        // Hovering a token shows its logprob and the top alternatives (5 by default).
        await reply.Locator(".tok").Nth(1).HoverAsync();
        var tip = page.Locator("#token-tip");
        await Expect(tip).ToBeVisibleAsync();
        await Expect(tip).ToContainTextAsync("logprob");
        await Expect(tip.Locator("tr")).ToHaveCountAsync(5);
        await browser.ScreenshotIfAskedAsync("console-playground");

        CollectionAssert.AreEqual(Array.Empty<string>(), browser.Errors, string.Join("\n", browser.Errors));
    }

    [TestMethod]
    [Timeout(TestTimeoutMs, CooperativeCancellation = true)]
    public async Task StopCancelsTheRequestOnTheServer()
    {
        await using var server = await TestServer.StartAsync();
        await using var browser = await ConsoleBrowser.LaunchAsync();
        var page = browser.Page;
        await OpenAsync(page, server);
        await page.CheckAsync("input[name=mode][value=completion]");
        await page.FillAsync("#max_tokens", "400");

        server.Gate.Close();
        server.Gate.Release(3);
        await page.FillAsync("#prompt", "Once upon a time");
        await page.ClickAsync("#send");
        await Expect(page.Locator("#transcript .generated .tok").First).ToBeVisibleAsync();
        Assert.AreEqual(1, server.Engine.Snapshot.Step.NumRunning);

        await page.ClickAsync("#stop-button");
        await Expect(page.Locator("#run-stats")).ToContainTextAsync("finish: stopped");
        // The loop handles the cancellation between steps: let it step until the request is gone.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (server.Engine.Snapshot.LiveRequests > 0 && DateTime.UtcNow < deadline)
        {
            server.Gate.Release(1);
            await Task.Delay(10);
        }

        server.Gate.Open();
        using var doc = JsonDocument.Parse(await server.Http.GetStringAsync("v1/status"));
        var s = doc.RootElement;
        Assert.AreEqual(0, s.GetProperty("requests").GetProperty("running").GetInt32());
        Assert.AreEqual(0, s.GetProperty("kv_cache").GetProperty("blocks_used").GetInt32());
        var last = s.GetProperty("recent_requests").GetProperty("items")[0];
        Assert.AreEqual("abort", last.GetProperty("finish_reason").GetString());
        Assert.IsLessThan(400, last.GetProperty("completion_tokens").GetInt32(), "stopped long before max_tokens");
        CollectionAssert.AreEqual(Array.Empty<string>(), browser.Errors, string.Join("\n", browser.Errors));
    }

    [TestMethod]
    [Timeout(TestTimeoutMs, CooperativeCancellation = true)]
    public async Task DashboardChartsMoveUnderLoadAndRequestsAreListed()
    {
        // Making the README's screenshot, the load lasts longer so the charts have some history.
        bool screenshot = Environment.GetEnvironmentVariable("PAGED_CONSOLE_SCREENSHOTS") is { Length: > 0 };
        int requests = screenshot ? 80 : 16;
        // Fair share between two tenants, and few enough KV blocks (40) that six running streams preempt each other.
        var engineOptions = TestServer.DefaultEngineOptions with { MaxNumSeqs = 6, NumKvBlocks = 40, Policy = SchedulingPolicy.Fair };
        await using var server = await TestServer.StartAsync(engineOptions: engineOptions);
        await using var browser = await ConsoleBrowser.LaunchAsync();
        var page = browser.Page;
        await page.GotoAsync(server.BaseAddress + "#dashboard");
        await Expect(page.Locator("#panel-dashboard")).ToBeVisibleAsync();

        // A load that lasts: steps are let through one every 40 ms while 16 streams (6 at a time) run.
        using var drip = new CancellationTokenSource();
        server.Gate.Close();
        var dripper = Task.Run(async () =>
        {
            while (!drip.IsCancellationRequested)
            {
                server.Gate.Release(1);
                await Task.Delay(40, CancellationToken.None);
            }
        });
        var load = Enumerable.Range(0, requests).Select(i => server.StreamAsync("v1/completions", new
        {
            model = TestServer.ModelName,
            prompt = "Once upon a time there was a little girl who loved to play in the park with her dog. " + i,
            max_tokens = 60 + (i * 7 % 40),
            ignore_eos = true,
            stream = true,
            user = i % 4 == 0 ? "bob" : "alice",
        })).ToList();
        await Expect(page.Locator("#tenants-card")).ToBeVisibleAsync();
        await Expect(page.Locator("#tenants tbody tr")).ToHaveCountAsync(2);

        const string series = "window.pagedConsole.dashboard.charts";
        await page.WaitForFunctionAsync($"() => {series}.kv.series[0].values.some(v => v > 0) && {series}.requests.series[0].values.some(v => v > 0)"
            + $" && {series}.requests.series[1].values.some(v => v > 0) && {series}.tokens.series[1].values.some(v => v > 0)"
            + $" && {series}.requests.series[0].values.filter(v => v > 0).length >= {(screenshot ? 25 : 5)}", null, new() { Timeout = 120_000 });
        await browser.ScreenshotIfAskedAsync("console-dashboard", fullPage: true);

        await Task.WhenAll(load);
        await drip.CancelAsync();
        await dripper;
        server.Gate.Open();
        // After the load: nothing running, no block used, the blocks of the shared prefix still cached.
        await page.WaitForFunctionAsync($"() => {series}.requests.series[0].values.at(-1) === 0 && {series}.kv.series[0].values.at(-1) === 0 && {series}.kv.series[1].values.at(-1) > 0");
        await Expect(page.Locator("#tenants tbody tr")).ToHaveTextAsync("no requests");
        await page.ClickAsync("#tab-requests");
        await Expect(page.Locator("#requests-table tbody tr")).ToHaveCountAsync(requests);
        await Expect(page.Locator("#requests-table tbody tr").First.Locator("td").Last).ToHaveTextAsync("length");
        CollectionAssert.AreEqual(Array.Empty<string>(), browser.Errors, string.Join("\n", browser.Errors));
    }

    [TestMethod]
    [Timeout(TestTimeoutMs, CooperativeCancellation = true)]
    public async Task ApiKeyIsAskedForAndUsed()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ApiKey = "console-key" });
        await using var browser = await ConsoleBrowser.LaunchAsync();
        var page = browser.Page;
        await page.GotoAsync(server.BaseAddress.ToString());

        var dialog = page.Locator("#key-dialog");
        await Expect(dialog).ToBeVisibleAsync();
        await page.FillAsync("#key-input", "wrong-key");
        await page.PressAsync("#key-input", "Enter");
        await Expect(page.Locator("#key-reason")).ToContainTextAsync("not accepted");
        await page.FillAsync("#key-input", "console-key");
        await page.PressAsync("#key-input", "Enter");
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(page.Locator("#model option")).ToHaveTextAsync(TestServer.ModelName);
        Assert.AreEqual("console-key", await page.EvaluateAsync<string>("() => sessionStorage.getItem('paged.apiKey')"));

        await page.FillAsync("#max_tokens", "8");
        await page.FillAsync("#prompt", "Hello");
        await page.ClickAsync("#send");
        await Expect(page.Locator("#run-stats")).ToContainTextAsync("finish:");
        await Expect(page.Locator("#transcript .msg.error")).ToHaveCountAsync(0);
        await Expect(page.Locator("#server-state")).ToHaveClassAsync(new Regex("ok"));
        // The only errors are the browser's notes of the 401 answers that made the page ask.
        var unexpected = browser.Errors.Where(e => !e.Contains("401", StringComparison.Ordinal)).ToList();
        CollectionAssert.AreEqual(Array.Empty<string>(), unexpected, string.Join("\n", unexpected));
    }
}
