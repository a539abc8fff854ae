namespace Paged.Engine.Tests;

/// <summary>One engine run of stories260K for the tests that compare configurations with each other.</summary>
internal static class EngineRuns
{
    /// <summary>Generates the requests with a fresh engine; checks that no KV block leaks and hands back the counters.</summary>
    public static IReadOnlyList<RequestOutput> Generate(EngineOptions o, IReadOnlyList<(string Prompt, SamplingParams Sampling)> requests, out EngineCounters counters)
    {
        using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, o);
        var result = engine.Generate(requests);
        counters = engine.Counters;
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, $"no KV block leaks ({o})");
        return result;
    }
}
