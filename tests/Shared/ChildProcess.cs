using System.Diagnostics;
using System.Globalization;

namespace Paged.Tests.Shared;

/// <summary>
/// Runs a child process with a hard timeout: on expiry the whole process tree is killed and a
/// <see cref="TimeoutException"/> carries the command and the tail of what it printed. Every process a test
/// starts goes through here, so a hung child fails its test instead of hanging the suite.
/// </summary>
internal static partial class ChildProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

    [System.Text.RegularExpressions.GeneratedRegex("\u001B\\[[0-9;]*[A-Za-z]")]
    private static partial System.Text.RegularExpressions.Regex AnsiEscape();

    public static Result Run(ProcessStartInfo psi, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(psi);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"{Describe(psi)} did not finish within {timeout.TotalSeconds:F0} s and was killed; output tail:\n{Tail(stdout.Result)}\n{Tail(stderr.Result)}"));
        }

        p.WaitForExit(); // drains the redirected streams
        return new Result(p.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }

    public static string Describe(ProcessStartInfo psi) => $"{psi.FileName} {string.Join(' ', psi.ArgumentList)}";

    public static string Tail(string text, int chars = 4000) => text.Length <= chars ? text : "..." + text[^chars..];

    /// <summary>The directory holding Kernels.sln above the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
                return dir.FullName;
        }

        throw new DirectoryNotFoundException($"no Kernels.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// Runs this test assembly again in a child process on the tests matching <paramref name="filter"/>, with
    /// extra environment variables (e.g. a forced code path). The child must pass and run at least one test.
    /// </summary>
    public static Result RunTestsAgain(string assemblyPath, string filter, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("dotnet");
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(assemblyPath);
        psi.ArgumentList.Add("--filter");
        psi.ArgumentList.Add(filter);
        psi.ArgumentList.Add("--no-progress");
        psi.ArgumentList.Add("--no-ansi");
        psi.ArgumentList.Add("--output");
        psi.ArgumentList.Add("detailed");
        foreach (var (key, value) in environment)
            psi.Environment[key] = value;
        var result = Run(psi, timeout);
        // The runner colours its lines when it believes a terminal (or CI) is watching: keep the text only.
        return result with { Stdout = AnsiEscape().Replace(result.Stdout, ""), Stderr = AnsiEscape().Replace(result.Stderr, "") };
    }
}
