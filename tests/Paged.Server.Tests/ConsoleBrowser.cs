using Microsoft.Playwright;

namespace Paged.Server.Tests;

/// <summary>
/// A headless Chromium (Debian's package, never one Playwright downloads) with a fresh profile, driven by
/// Playwright, and one page that records console errors and uncaught exceptions. The machine's network is
/// closed, so Chromium is started without anything that phones home (background networking, component
/// updates, sync, QUIC). Without a chromium binary the test is inconclusive, naming what is missing.
/// </summary>
internal sealed class ConsoleBrowser : IAsyncDisposable
{
    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private readonly IPlaywright _playwright;
    private readonly IBrowserContext _context;
    private readonly string _profile;

    private ConsoleBrowser(IPlaywright playwright, IBrowserContext context, string profile, IPage page)
    {
        _playwright = playwright;
        _context = context;
        _profile = profile;
        Page = page;
        page.Console += (_, m) =>
        {
            if (m.Type == "error")
                Errors.Add($"console: {m.Text}");
        };
        page.PageError += (_, e) => Errors.Add($"page error: {e}");
    }

    /// <summary>PAGED_CHROMIUM, else /usr/bin/chromium (Debian's package: `apt-get install chromium`).</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("PAGED_CHROMIUM") is { Length: > 0 } p ? p : "/usr/bin/chromium";

    public IPage Page { get; }

    /// <summary>Console errors and page exceptions so far (appended by Playwright's event thread).</summary>
    public List<string> Errors { get; } = [];

    public static async Task<ConsoleBrowser> LaunchAsync(int width = 1360, int height = 900)
    {
        if (!File.Exists(ChromiumPath))
            Assert.Inconclusive($"no Chromium at {ChromiumPath} (install Debian's chromium package, or set PAGED_CHROMIUM): the console's browser tests need one");
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        // Expectations wait up to 30 s (Playwright's default is 5 s): CI machines are shared and slow.
        Assertions.SetDefaultExpectTimeout(30_000);
        string profile = Directory.CreateTempSubdirectory("paged-chromium-").FullName;
        var playwright = await Playwright.CreateAsync();
        try
        {
            var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new()
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ChromiumArgs,
                Timeout = 60_000,
                ViewportSize = new() { Width = width, Height = height },
                ColorScheme = ColorScheme.Light,
            });
            context.SetDefaultTimeout(30_000);
            var page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();
            return new ConsoleBrowser(playwright, context, profile, page);
        }
        catch
        {
            playwright.Dispose();
            Directory.Delete(profile, recursive: true);
            throw;
        }
    }

    /// <summary>Saves a screenshot of the page to $PAGED_CONSOLE_SCREENSHOTS/NAME.png when that variable names a directory (how docs/img is made).</summary>
    public async Task ScreenshotIfAskedAsync(string name, bool fullPage = false)
    {
        if (Environment.GetEnvironmentVariable("PAGED_CONSOLE_SCREENSHOTS") is { Length: > 0 } dir)
            await Page.ScreenshotAsync(new() { Path = Path.Combine(dir, name + ".png"), FullPage = fullPage });
    }

    public async ValueTask DisposeAsync()
    {
        await _context.CloseAsync();
        _playwright.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be writing its profile as it exits: a temp directory left behind is harmless.
        }
    }
}
