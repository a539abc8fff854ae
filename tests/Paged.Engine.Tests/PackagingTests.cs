using System.Diagnostics;

namespace Paged.Engine.Tests;

/// <summary>
/// The NuGet packages work as a .NET user would use them: <c>dotnet pack</c> of Paged.Runtime (with the CPU
/// backend as a runtimes/linux-x64/native asset), Paged.Models and Paged.Engine into a folder; a console app
/// outside the repository (the README's embedding sample) restores them from that folder feed, builds, and
/// generates with stories260K, loading the backend from where NuGet put it.
/// </summary>
[TestClass]
public sealed class PackagingTests
{
    private static readonly string[] Packages = ["Paged.Runtime", "Paged.Models", "Paged.Engine"];

    [TestMethod]
    [TestCategory("Packaging")]
    [Timeout(900_000, CooperativeCancellation = true)]
    public async Task PackedPackages_BuildAConsoleApp_ThatGenerates()
    {
        string repo = EmbeddingExampleTests.RepoRoot();
        string work = Directory.CreateTempSubdirectory("paged-pack-").FullName;
        try
        {
            string feed = Path.Combine(work, "feed");
            foreach (string p in Packages)
                await Run("dotnet", ["pack", Path.Combine(repo, "managed", p), "-c", "Release", "--no-build", "-o", feed, "-nologo"], repo, 300);
            foreach (string p in Packages)
                Assert.IsTrue(File.Exists(Path.Combine(feed, $"{p}.0.1.0.nupkg")), $"{p} was not packed");

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            foreach (string file in new[] { "Program.cs", "StoryStreamer.cs" })
                File.Copy(Path.Combine(repo, "examples", "Paged.Examples.Embedding", file), Path.Combine(app, file));
            string globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } g
                ? g : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            await File.WriteAllTextAsync(Path.Combine(app, "StoryApp.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <!-- A private package folder, so a stale Paged 0.1.0 in the user's cache is never used; other packages come from that cache. -->
                    <RestorePackagesPath>$(MSBuildThisFileDirectory)packages</RestorePackagesPath>
                    <RestoreAdditionalProjectFallbackFolders>{globalPackages}</RestoreAdditionalProjectFallbackFolders>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Paged.Engine" Version="0.1.0" />
                  </ItemGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <!-- Only the folder feed: every other package comes from the fallback folder, so no network is needed. -->
                  <packageSources>
                    <clear />
                    <add key="paged-local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);

            await Run("dotnet", ["build", "-c", "Release", "-nologo", "-v", "q", "-nodeReuse:false", "-p:UseSharedCompilation=false"], app, 400);
            string bin = Path.Combine(app, "bin", "Release", "net10.0");
            Assert.IsTrue(File.Exists(Path.Combine(bin, "runtimes", "linux-x64", "native", "libpaged_cpu.so")), "the CPU backend arrives as a native asset");
            Assert.IsFalse(File.Exists(Path.Combine(bin, "libpaged_cpu.so")), "the backend must be found in runtimes/, not beside the app");

            string output = await Run("dotnet", [Path.Combine(bin, "StoryApp.dll"), SharedFiles.Stories260KBin, "Once upon a time", "Zoo"], app, 120);
            StringAssert.Contains(output, "story-0: ");
            StringAssert.Contains(output, "story-1: ");
            StringAssert.Contains(output, ", 0 KV blocks in use");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Runs a child process to completion within <paramref name="timeoutSeconds"/> (killed after); fails on a non-zero exit.</summary>
    private static async Task<string> Run(string file, string[] args, string directory, int timeoutSeconds)
    {
        var info = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["PAGED_NATIVE_DIR"] = ""; // the packaged backend only
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} ran over {timeoutSeconds} s");
        }

        string output = await stdout + await stderr;
        Assert.AreEqual(0, process.ExitCode, $"{file} {string.Join(' ', args)} failed:\n{output}");
        return output;
    }
}
