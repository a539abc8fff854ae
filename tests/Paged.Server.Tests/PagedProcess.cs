using System.Diagnostics;
using System.Globalization;

namespace Paged.Server.Tests;

/// <summary>
/// A long-running `paged` verb (serve, router) as a child process from the paged.dll beside the tests: started,
/// its "listening on" line read (within a minute), stopped with SIGTERM, killed if a test leaves it running.
/// </summary>
internal sealed class PagedProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private PagedProcess(Process process, Task<string> stderr, string line, int port)
    {
        _process = process;
        _stderr = stderr;
        ListeningLine = line;
        Port = port;
    }

    public string ListeningLine { get; }

    /// <summary>The next line the process prints after its "listening on" line (within 10 s).</summary>
    public async Task<string?> ReadLineAsync() => await _process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));

    public int Port { get; }

    public static async Task<PagedProcess> StartAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "paged.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            psi.Environment[name] = value;
        var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            string? line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.IsNotNull(line, $"{string.Join(' ', args)} printed nothing");
            var match = TestServer.ListeningLine().Match(line);
            Assert.IsTrue(match.Success, line);
            return new PagedProcess(process, stderr, line, int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Sends SIGTERM and asserts a clean exit (code 0) within 30 s.</summary>
    public async Task StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.AreEqual(0, _process.ExitCode, await _stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
