using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Paged.Server.Tests;

/// <summary>
/// A `paged serve --role ROLE` child process (a <see cref="PagedProcess"/>) on a free loopback port (stories260K,
/// one thread), read through HTTP: posts, metrics; killed (whole tree) on dispose if it is still running.
/// </summary>
internal sealed partial class ServeInstance : IAsyncDisposable
{
    private readonly PagedProcess _process;

    private ServeInstance(PagedProcess process)
    {
        _process = process;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{process.Port}/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port => _process.Port;

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public string Stderr => _process.Stderr;

    public static async Task<ServeInstance> StartAsync(string role, IReadOnlyDictionary<string, string>? environment = null, params string[] extra) =>
        new(await PagedProcess.StartAsync(
            ["serve", "--model", TestServer.ModelPath, "--port", "0", "--threads", "1", "--served-model-name", TestServer.ModelName, "--role", role, .. extra],
            environment));

    /// <summary>POSTs a JSON body; returns the status and the parsed body.</summary>
    public async Task<(int Status, JsonObject Body)> PostAsync(string path, JsonObject body)
    {
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await Http.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>The sum over labels of one metric in /metrics.</summary>
    public async Task<double> MetricAsync(string name)
    {
        string text = await Http.GetStringAsync("metrics");
        double sum = 0;
        foreach (Match m in MetricLine().Matches(text))
        {
            if (m.Groups[1].Value == name)
                sum += double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }

        return sum;
    }

    /// <summary>Polls a metric until it equals <paramref name="expected"/> (releases travel asynchronously) or the deadline passes; returns the last value.</summary>
    public async Task<double> AwaitMetricAsync(string name, double expected, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        double value;
        while ((value = await MetricAsync(name)) != expected && clock.Elapsed < within)
            await Task.Delay(50);
        return value;
    }

    public Task WaitForExitAsync(TimeSpan within) => _process.WaitForExitAsync(within);

    [GeneratedRegex(@"^([a-z_]+)(?:\{[^}]*\})? ([-+0-9.eE]+|NaN)$", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    public ValueTask DisposeAsync()
    {
        Http.Dispose();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
