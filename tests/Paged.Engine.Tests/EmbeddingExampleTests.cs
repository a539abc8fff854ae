using Paged.Examples.Embedding;

namespace Paged.Engine.Tests;

/// <summary>The README's embedding sample compiles (examples/Paged.Examples.Embedding), runs on stories260K, and is the code the README shows.</summary>
[TestClass]
public sealed class EmbeddingExampleTests
{
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kernels.sln")))
                return dir.FullName;
        }

        throw new DirectoryNotFoundException("no Kernels.sln above the test binaries");
    }

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task Sample_StreamsConcurrentStories_AndLeavesNoBlockInUse()
    {
        using var output = new StringWriter();
        var results = await StoryStreamer.RunAsync(SharedFiles.Stories260KBin, ["Once upon a time", "The cat sat", "Zoo"], output);
        Assert.HasCount(3, results);
        Assert.IsTrue(results.All(r => r.Finished && r.FinishReason is FinishReason.Stop or FinishReason.Length));
        Assert.IsTrue(results.All(r => !r.Text.Contains('.', StringComparison.Ordinal)), "the stop string is cut");
        string text = output.ToString();
        StringAssert.StartsWith(text, results[0].Text, "the first story is streamed first");
        StringAssert.Contains(text, "story-2: ");
        StringAssert.Contains(text, ", 0 KV blocks in use");
    }

    [TestMethod]
    public void Readme_ShowsTheSampleAsCompiled()
    {
        string sample = File.ReadAllText(Path.Combine(RepoRoot(), "examples", "Paged.Examples.Embedding", "StoryStreamer.cs")).ReplaceLineEndings("\n");
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md")).ReplaceLineEndings("\n");
        StringAssert.Contains(readme, "```csharp\n" + sample + "```", "README.md's embedding sample differs from examples/Paged.Examples.Embedding/StoryStreamer.cs");
    }
}
