using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Paged.Server.Tests;

/// <summary>
/// A long-running `paged` verb (serve, router) as a child process from the paged.dll beside the tests: started,
/// its "listening on" line read (within a minute), its stderr kept for failure messages, stopped with SIGTERM,
/// killed (whole tree) if a test leaves it running.
/// </summary>
internal sealed class PagedProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr;
    private bool _disposed;

    private PagedProcess(Process process, StringBuilder stderr, string line, int port)
    {
        _process = process;
        _stderr = stderr;
        ListeningLine = line;
        Port = port;
    }

    public string ListeningLine { get; }

    public int Port { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>What the process has written to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
                return _stderr.ToString();
        }
    }

    public static async Task<PagedProcess> StartAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "paged.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            psi.Environment[name] = value;
        var process = Process.Start(psi)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
                stderr.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            var match = line is null ? Match.Empty : TestServer.ListeningLine().Match(line);
            if (!match.Success)
            {
                lock (stderr)
                    throw new AssertFailedException($"paged {string.Join(' ', args)} did not start: {line}\n{stderr}");
            }

            return new PagedProcess(process, stderr, line!, int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>The next line the process prints after its "listening on" line (within 10 s).</summary>
    public async Task<string?> ReadLineAsync() => await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));

    public async Task WaitForExitAsync(TimeSpan within) => await _process.WaitForExitAsync().WaitAsync(within);

    /// <summary>Sends SIGTERM and asserts a clean exit (code 0) within 30 s.</summary>
    public async Task StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        await WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.AreEqual(0, _process.ExitCode, Stderr);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(30_000);
        }

        _process.Dispose();
    }
}
