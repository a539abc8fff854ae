using System.Text.Json;
using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Engine.Tests;

/// <summary>
/// Greedy generation against the reference C implementation (llama2.c run.c) on stories260K: every prompt
/// encodes to the reference ids; at every step the engine's raw top-2 logprob gap (= its top-2 logit gap)
/// equals the reference's top-2 logit margin within <see cref="MarginTolerance"/>; and the tokens equal the
/// reference's up to the first divergence, which is allowed only at a step whose reference margin is below
/// 1e-3 (a near-tie, where float summation order may legitimately pick the other token). Run one prompt at a
/// time and all prompts in one batch, from the .bin and the .gguf file, on every backend present.
/// </summary>
[TestClass]
public sealed class GoldenTests
{
    /// <summary>Below this reference margin the two best tokens are a near-tie: either may be chosen.</summary>
    private const double NearTie = 1e-3;

    /// <summary>
    /// How far the engine's top-2 gap may be from run.c's margin. Both compute fp32 logits of magnitude ~10 with
    /// different summation orders (blocked/SIMD vs sequential) over dot products of length 64..512: the
    /// differences seen are ~1e-5; 2e-4 is a bound with margin that a real error (wrong token, position or
    /// weight) exceeds by orders of magnitude.
    /// </summary>
    private const double MarginTolerance = 2e-4;

    internal sealed record Golden(string Prompt, int MaxPositions, int[] PromptIds, int[] OutputIds, double[] Margins, string Text)
    {
        public int MaxTokens => MaxPositions - PromptIds.Length + 1;
    }

    internal static List<Golden> LoadGolden()
    {
        var rows = File.ReadLines(SharedFiles.GoldenGreedy).Where(l => l.Length > 0).Select(line =>
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            return new Golden(
                r.GetProperty("prompt").GetString()!,
                r.GetProperty("max_positions").GetInt32(),
                r.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                r.GetProperty("output_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                r.GetProperty("top2_logit_margins").EnumerateArray().Select(e => e.GetDouble()).ToArray(),
                r.GetProperty("text").GetString()!);
        }).ToList();
        Assert.HasCount(8, rows, "every golden row is read");
        return rows;
    }

    /// <summary>Greedy requests for every golden prompt, asking for the raw top-2 logprobs.</summary>
    internal static List<(string Prompt, SamplingParams Sampling)> Requests(IEnumerable<Golden> golden) =>
        [.. golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens, Logprobs = 2 }))];

    /// <summary>Checks one output against its golden row; returns the largest |engine gap - reference margin| seen.</summary>
    internal static double AssertMatchesGolden(Golden g, RequestOutput output, string how)
    {
        CollectionAssert.AreEqual(g.PromptIds, output.PromptTokenIds.ToArray(), $"{how}: prompt ids of '{g.Prompt}'");
        var actual = output.TokenIds.ToArray();
        var logprobs = output.Logprobs ?? throw new AssertFailedException($"{how}: no logprobs");
        Assert.HasCount(actual.Length, logprobs, $"{how}: one logprob entry per token");
        int common = Math.Min(actual.Length, g.OutputIds.Length);
        int divergence = Enumerable.Range(0, common).FirstOrDefault(i => actual[i] != g.OutputIds[i], -1);
        int compared = divergence < 0 ? common : divergence + 1; // the divergent step still shares its context
        double worst = 0;
        for (int i = 0; i < compared; i++)
        {
            var top = logprobs[i].Top;
            Assert.AreEqual(actual[i], top[0].TokenId, $"{how}: greedy picks the top token at step {i} of '{g.Prompt}'");
            double gap = top[0].Logprob - top[1].Logprob;
            worst = Math.Max(worst, Math.Abs(gap - g.Margins[i]));
            Assert.IsLessThanOrEqualTo(MarginTolerance, Math.Abs(gap - g.Margins[i]),
                $"{how}: step {i} of '{g.Prompt}': engine top-2 gap {gap:R}, reference margin {g.Margins[i]:R}");
        }

        if (divergence >= 0)
        {
            Assert.IsLessThan(NearTie, g.Margins[divergence],
                $"{how}: '{g.Prompt}' diverges at step {divergence} (engine {actual[divergence]}, reference {g.OutputIds[divergence]}) where the reference margin {g.Margins[divergence]:R} is not a near-tie");
            return worst;
        }

        Assert.AreEqual(g.OutputIds.Length, actual.Length, $"{how}: '{g.Prompt}' length");
        Assert.AreEqual(g.OutputIds[^1] == 1 ? FinishReason.Stop : FinishReason.Length, output.FinishReason, how);
        Assert.AreEqual(g.Text, g.Prompt + output.Text + "\n", $"{how}: text of '{g.Prompt}' (run.c ends with a newline)");
        return worst;
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow("stories260K.bin", false)]
    [DataRow("stories260K.bin", true)]
    [DataRow("stories260K.gguf", false)]
    [DataRow("stories260K.gguf", true)]
    public void Greedy_ReproducesReference(string file, bool batched)
    {
        var golden = LoadGolden();
        string path = Path.Combine(SharedFiles.Root, "models", "stories260K", file);
        using var engine = LlmEngine.Create(path, null, new EngineOptions { Device = "cpu", MaxNumSeqs = 8 });
        double worst = 0;
        if (batched)
        {
            var outputs = engine.Generate(Requests(golden));
            for (int i = 0; i < golden.Count; i++)
                worst = Math.Max(worst, AssertMatchesGolden(golden[i], outputs[i], $"{file} batched on {engine.DeviceName}"));
        }
        else
        {
            foreach (var g in golden)
                worst = Math.Max(worst, AssertMatchesGolden(g, engine.Generate(Requests([g]))[0], $"{file} one at a time on {engine.DeviceName}"));
        }

        Console.WriteLine($"{file} on {engine.DeviceName}: largest |top-2 gap - reference margin| {worst:E2}");
        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, "every KV block is free once all requests finish");
    }

    // The CUDA kernels end to end, under the SIMT emulator (libpaged_simt.so) and on a GPU when there is one:
    // every golden prompt at full length, batched, must give the CPU backend's tokens and match the reference.
    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    [DataRow("simt", "stories260K.bin")]
    [DataRow("simt", "stories260K.gguf")]
    [DataRow("cuda", "stories260K.bin")]
    [DataRow("cuda", "stories260K.gguf")]
    public void Greedy_DeviceMatchesCpuAndReference(string device, string file)
    {
        if (!Paged.Runtime.Backend.IsAvailable(device))
            Assert.Inconclusive($"libpaged_{device}.so is not built");
        var golden = LoadGolden();
        string path = Path.Combine(SharedFiles.Root, "models", "stories260K", file);
        using var cpu = LlmEngine.Create(path, null, new EngineOptions { Device = "cpu", MaxNumSeqs = 8 });
        LlmEngine engine;
        try
        {
            engine = LlmEngine.Create(path, null, new EngineOptions { Device = device, MaxNumSeqs = 8 });
        }
        catch (Paged.Runtime.BackendException e) when (e.Status == Paged.Runtime.Status.Unsupported)
        {
            Assert.Inconclusive($"backend '{device}' cannot run here: {e.Message}");
            throw;
        }

        using (engine)
        {
            if (device == "simt")
                StringAssert.Contains(engine.DeviceName, "simt");
            var expected = cpu.Generate(Requests(golden));
            var actual = engine.Generate(Requests(golden));
            for (int i = 0; i < golden.Count; i++)
            {
                CollectionAssert.AreEqual(expected[i].TokenIds.ToArray(), actual[i].TokenIds.ToArray(), $"{device} vs cpu: '{golden[i].Prompt}'");
                AssertMatchesGolden(golden[i], actual[i], $"{file} batched on {engine.DeviceName}");
            }

            Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, "every KV block is free once all requests finish");
        }
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void Greedy_IsIdenticalUnderChunkingTinyBatchesAndPreemption()
    {
        var golden = LoadGolden();
        var requests = Requests(golden);
        IReadOnlyList<RequestOutput> Run(EngineOptions o)
        {
            using var engine = LlmEngine.Create(SharedFiles.Stories260KBin, null, o);
            var result = engine.Generate(requests);
            Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, $"no KV block leaks ({o})");
            if (o.NumKvBlocks == 40)
                Assert.IsGreaterThan(0L, engine.Counters.Preemptions, "40 blocks cannot hold 8 stories: preemption must happen");
            return result;
        }

        var baseline = Run(new EngineOptions { MaxNumSeqs = 8 });
        var variants = new[]
        {
            new EngineOptions { MaxNumSeqs = 8, MaxNumBatchedTokens = 7 },              // chunked prefill
            new EngineOptions { MaxNumSeqs = 3, BlockSize = 8 },                         // small batch, other block size
            new EngineOptions { MaxNumSeqs = 8, NumKvBlocks = 40, BlockSize = 16 },      // memory pressure: preemption
        };
        foreach (var o in variants)
        {
            var outputs = Run(o);
            for (int i = 0; i < golden.Count; i++)
                CollectionAssert.AreEqual(baseline[i].TokenIds.ToArray(), outputs[i].TokenIds.ToArray(), $"{golden[i].Prompt} with {o}");
        }
    }

    [TestMethod]
    [Timeout(300_000, CooperativeCancellation = true)]
    public void Greedy_GgufAndBinGiveIdenticalLogitsPath()
    {
        // Same weights through both loaders: identical tokens for every prompt in full (not just the trusted prefix).
        var golden = LoadGolden();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens })).ToList();
        using var bin = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions());
        using var gguf = LlmEngine.Create(SharedFiles.Stories260KGguf, null, new EngineOptions());
        var a = bin.Generate(requests);
        var b = gguf.Generate(requests);
        for (int i = 0; i < a.Count; i++)
            CollectionAssert.AreEqual(a[i].TokenIds.ToArray(), b[i].TokenIds.ToArray(), golden[i].Prompt);
    }
}
