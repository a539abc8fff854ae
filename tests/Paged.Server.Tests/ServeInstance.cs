using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Paged.Server.Tests;

/// <summary>
/// A `paged serve` child process on a free loopback port (stories260K, one thread): started with a deadline on
/// its "listening" line, read through HTTP, killed (whole tree) on dispose if it is still running.
/// </summary>
internal sealed partial class ServeInstance : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private ServeInstance(Process process, int port)
    {
        _process = process;
        Port = port;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port { get; }

    public HttpClient Http { get; }

    public bool HasExited => _process.HasExited;

    public string Stderr
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public static async Task<ServeInstance> StartAsync(string role, IReadOnlyDictionary<string, string>? environment = null, params string[] extra)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "paged.dll"), "serve", "--model", TestServer.ModelPath, "--port", "0", "--threads", "1",
            "--served-model-name", TestServer.ModelName, "--role", role })
            psi.ArgumentList.Add(a);
        foreach (string a in extra)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start paged serve");
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
                stderr.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(StartTimeout);
            var match = line is null ? Match.Empty : TestServer.ListeningLine().Match(line);
            if (!match.Success)
                throw new AssertFailedException($"paged serve --role {role} did not start: {line}\n{stderr}");
            var instance = new ServeInstance(process, int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
            _ = process.StandardOutput.ReadToEndAsync(); // keep the pipe drained
            lock (stderr)
                instance._stderr.Append(stderr);
            process.ErrorDataReceived += (_, e) =>
            {
                lock (instance._stderr)
                    instance._stderr.AppendLine(e.Data);
            };
            return instance;
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

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

    public async Task WaitForExitAsync(TimeSpan within) => await _process.WaitForExitAsync().WaitAsync(within);

    [GeneratedRegex(@"^([a-z_]+)(?:\{[^}]*\})? ([-+0-9.eE]+|NaN)$", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        _process.Dispose();
    }
}
