using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Paged.Server.Router;

namespace Paged.Server.Tests.Router;

/// <summary>A router on 127.0.0.1 (a free port) in this process over fake instances; health is polled only when a test asks.</summary>
internal sealed class RouterHarness : IAsyncDisposable
{
    private readonly List<FakeInstance> _fakes;

    private RouterHarness(PagedRouter router, RouterOptions options, List<FakeInstance> fakes)
    {
        Router = router;
        Options = options;
        _fakes = fakes;
        BaseAddress = new Uri($"http://127.0.0.1:{router.Port}/");
        // No draining of abandoned responses: disposing one closes the connection, as a leaving client does.
        Http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (options.ApiKey is { } key)
            Http.DefaultRequestHeaders.Authorization = new("Bearer", key);
    }

    public PagedRouter Router { get; }

    /// <summary>The fakes in the order prefill, decode, both.</summary>
    public IReadOnlyList<FakeInstance> Fakes => _fakes;

    public RouterOptions Options { get; }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    /// <summary>Starts a router over the given fakes (and extra URLs, e.g. a port nobody listens on); the fakes are disposed with it.</summary>
    public static async Task<RouterHarness> StartAsync(IEnumerable<FakeInstance>? prefill = null, IEnumerable<FakeInstance>? decode = null,
        IEnumerable<FakeInstance>? both = null, RouterOptions? options = null, IEnumerable<Uri>? extraPrefill = null, IEnumerable<Uri>? extraBoth = null)
    {
        var p = prefill?.ToList() ?? [];
        var d = decode?.ToList() ?? [];
        var b = both?.ToList() ?? [];
        options = (options ?? new RouterOptions()) with
        {
            Host = "127.0.0.1",
            Port = 0,
            Prefill = [.. p.Select(f => f.BaseAddress), .. extraPrefill ?? []],
            Decode = [.. d.Select(f => f.BaseAddress)],
            Both = [.. b.Select(f => f.BaseAddress), .. extraBoth ?? []],
            PollInterval = Timeout.InfiniteTimeSpan,
        };
        var router = await PagedRouter.StartAsync(options);
        return new RouterHarness(router, options, [.. p, .. d, .. b]);
    }

    /// <summary>A loopback URL nobody listens on (a port just bound and released).</summary>
    public static Uri DeadUrl()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/");
    }

    public async Task<(int Status, string Body, string? ContentType)> PostAsync(string path, JsonObject body)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(path, content);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>One sample of a router metric from its /metrics (labels as they appear, e.g. route="disagg").</summary>
    public async Task<double> MetricAsync(string name, string? label = null)
    {
        string text = await Http.GetStringAsync("metrics");
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name, StringComparison.Ordinal) && (label is null || line.Contains(label, StringComparison.Ordinal)))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Router.DisposeAsync();
        foreach (var f in _fakes)
            await f.DisposeAsync();
    }
}
