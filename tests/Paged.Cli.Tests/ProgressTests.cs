using System.Text.RegularExpressions;

namespace Paged.Cli.Tests;

/// <summary>
/// `paged generate` progress through the real program. The test's stderr is a pipe, so the program prints
/// plain lines (the terminal bar was checked by hand in tmux). Progress never touches stdout.
/// </summary>
[TestClass]
public sealed partial class ProgressTests
{
    private static readonly string[] Prompts = ["Once upon a time", "Zoo", "The cat sat on the mat and", "Lily"];

    private static string[] Generate(params string[] extra) =>
        ["generate", "--model", CliRunner.Model, "--max-tokens", "12", "--max-num-seqs", "2", .. extra, .. Prompts];

    [GeneratedRegex(@"^progress: (\d+)/(\d+) requests, (\d+) tokens, [0-9.]+ tok/s, elapsed [0-9.]+ s, ETA ([0-9.]+ s|-)$")]
    private static partial Regex ProgressLine();

    private static List<Match> ProgressLines(string stderr) =>
        [.. stderr.Split('\n').Select(l => ProgressLine().Match(l.TrimEnd('\r'))).Where(m => m.Success)];

    // With a zero interval every finished request prints a line: done counts 1..4 in order, tokens grow
    // (each request generates at least one), and the last line's tokens are the summary's generated tokens.
    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public void Generate_NotATerminal_PrintsPlainLinesOnStderrOnly()
    {
        var quiet = CliRunner.Run(Generate("--no-progress"));
        Assert.AreEqual(0, quiet.ExitCode, quiet.Stderr);
        Assert.IsEmpty(ProgressLines(quiet.Stderr), "--no-progress prints no progress line");
        Assert.DoesNotContain("progress:", quiet.Stderr);

        var shown = CliRunner.Run(Generate("--progress-interval", "0"));
        Assert.AreEqual(0, shown.ExitCode, shown.Stderr);
        Assert.AreEqual(quiet.Stdout, shown.Stdout, "progress must not change stdout");
        Assert.DoesNotContain("progress:", shown.Stdout);

        var lines = ProgressLines(shown.Stderr);
        Assert.HasCount(Prompts.Length, lines, shown.Stderr);
        long lastTokens = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            Assert.AreEqual(i + 1, int.Parse(lines[i].Groups[1].Value), "requests done counts up by one per line");
            Assert.AreEqual(Prompts.Length, int.Parse(lines[i].Groups[2].Value));
            long tokens = long.Parse(lines[i].Groups[3].Value);
            Assert.IsGreaterThan(lastTokens, tokens, "every finished request adds its tokens");
            lastTokens = tokens;
        }

        StringAssert.Contains(shown.Stderr, $"{lastTokens} generated tokens", "the last line counts every generated token");
        Assert.AreEqual("0.0 s", lines[^1].Groups[4].Value, "nothing is left when all requests are done");
    }

    // The default interval (5 s) is longer than this run: periodic lines only, no line for a short batch.
    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void Generate_ShortRunAtDefaultInterval_PrintsNoProgressLine()
    {
        var r = CliRunner.Run(Generate());
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        Assert.IsEmpty(ProgressLines(r.Stderr), r.Stderr);
        StringAssert.Contains(r.Stderr, "tok/s", "the summary line is still printed");
    }

    [TestMethod]
    [Timeout(60_000, CooperativeCancellation = true)]
    public void Generate_NegativeInterval_FailsNamingTheOption()
    {
        var r = CliRunner.Run(Generate("--progress-interval", "-1"));
        Assert.AreEqual(2, r.ExitCode, r.Stderr);
        StringAssert.Contains(r.Stderr, "--progress-interval");
        Assert.DoesNotContain("   at ", r.Stderr, "no stack trace");
    }
}
