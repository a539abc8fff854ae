using System.Text.Json;

namespace Paged.Cli.Tests;

/// <summary>--kv-cache-dtype on the command line (generate; serve and bench share the option).</summary>
[TestClass]
public sealed class KvCacheDTypeCliTests
{
    // The first golden story with an f16 KV cache: HalfKvCacheEngineTests found all 8 rows reproduced in full.
    [TestMethod]
    public void Generate_F16KvCache_MatchesTheGoldenStory()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--max-tokens", "252", "--kv-cache-dtype", "f16", "Once upon a time");
        Assert.AreEqual(0, r.ExitCode, r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadLines(Path.Combine(CliRunner.Shared, "golden", "stories260K_greedy.jsonl")).First());
        Assert.AreEqual(doc.RootElement.GetProperty("text").GetString() + "\n", r.Stdout);
    }

    [TestMethod]
    public void UnknownKvCacheDType_FailsNamingTheOption()
    {
        var r = CliRunner.Run("generate", "--model", CliRunner.Model, "--kv-cache-dtype", "f8", "hi");
        Assert.AreNotEqual(0, r.ExitCode, r.Stdout + r.Stderr);
        StringAssert.Contains(r.Stderr, "kv-cache-dtype");
        Assert.DoesNotContain("   at ", r.Stderr, "no stack trace");
    }
}
