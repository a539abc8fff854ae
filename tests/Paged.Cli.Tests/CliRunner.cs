using System.Diagnostics;
using Paged.Tests.Shared;

namespace Paged.Cli.Tests;

/// <summary>Runs the real `paged` program (paged.dll beside the tests) as a child process, killed after <see cref="Timeout"/>.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static string Shared { get; } = FindShared();

    public static string Model => Path.Combine(Shared, "models", "stories260K", "stories260K.bin");

    /// <summary>The longest any one CLI run may take (the slowest, a full golden story on the emulator, takes a few seconds).</summary>
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(120);

    public static Result Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "paged.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        var r = ChildProcess.Run(psi, Timeout);
        return new Result(r.ExitCode, r.Stdout, r.Stderr);
    }

    private static string FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        }

        throw new DirectoryNotFoundException("no Kernels.sln above the test directory");
    }
}
