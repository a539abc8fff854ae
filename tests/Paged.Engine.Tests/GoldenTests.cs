using System.Text.Json;
using Paged.Models;
using Paged.Models.Tokenization;

namespace Paged.Engine.Tests;

/// <summary>
/// Greedy generation against the reference C implementation (llama2.c run.c) on stories260K:
/// every prompt encodes to the reference ids, and generation reproduces the reference tokens up to the
/// first step whose reference top-2 logit margin is below 1e-3 (after a near-tie, summation order may
/// legitimately pick the other token). Run one prompt at a time and all prompts in one batch, from the
/// .bin and the .gguf file.
/// </summary>
[TestClass]
public sealed class GoldenTests
{
    internal sealed record Golden(string Prompt, int MaxPositions, int[] PromptIds, int[] OutputIds, double[] Margins, string Text)
    {
        public int MaxTokens => MaxPositions - PromptIds.Length + 1;

        /// <summary>How many leading output tokens must match exactly.</summary>
        public int TrustedPrefix
        {
            get
            {
                int i = Array.FindIndex(Margins, m => m < 1e-3);
                return i < 0 ? OutputIds.Length : i;
            }
        }
    }

    internal static List<Golden> LoadGolden() =>
        File.ReadLines(SharedFiles.GoldenGreedy).Where(l => l.Length > 0).Select(line =>
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

    internal static void AssertMatchesGolden(Golden g, RequestOutput output, string how)
    {
        CollectionAssert.AreEqual(g.PromptIds, output.PromptTokenIds.ToArray(), $"{how}: prompt ids of '{g.Prompt}'");
        int n = g.TrustedPrefix;
        var actual = output.TokenIds.ToArray();
        Assert.IsTrue(actual.Length >= n, $"{how}: '{g.Prompt}' produced {actual.Length} tokens, reference {g.OutputIds.Length} (trusted {n})");
        CollectionAssert.AreEqual(g.OutputIds[..n], actual[..n], $"{how}: tokens of '{g.Prompt}'");
        if (n == g.OutputIds.Length)
        {
            Assert.AreEqual(g.OutputIds.Length, actual.Length, $"{how}: '{g.Prompt}' length");
            Assert.AreEqual(g.OutputIds[^1] == 1 ? FinishReason.Stop : FinishReason.Length, output.FinishReason, how);
            Assert.AreEqual(g.Text, g.Prompt + output.Text + "\n", $"{how}: text of '{g.Prompt}' (run.c ends with a newline)");
        }
    }

    [TestMethod]
    [DataRow("stories260K.bin", false)]
    [DataRow("stories260K.bin", true)]
    [DataRow("stories260K.gguf", false)]
    [DataRow("stories260K.gguf", true)]
    public void Greedy_ReproducesReference(string file, bool batched)
    {
        var golden = LoadGolden();
        Assert.AreEqual(8, golden.Count);
        string path = Path.Combine(SharedFiles.Root, "models", "stories260K", file);
        using var engine = LlmEngine.Create(path, null, new EngineOptions { Device = "cpu", MaxNumSeqs = 8 });
        if (batched)
        {
            var outputs = engine.Generate(golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens })).ToList());
            for (int i = 0; i < golden.Count; i++)
                AssertMatchesGolden(golden[i], outputs[i], $"{file} batched");
        }
        else
        {
            foreach (var g in golden)
            {
                var output = engine.Generate([(g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens })])[0];
                AssertMatchesGolden(g, output, $"{file} one at a time");
            }
        }

        Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks, "every KV block is free once all requests finish");
    }

    // The CUDA kernels run end to end under the SIMT emulator (libpaged_simt.so): every golden prompt at
    // full length, batched, must give the CPU backend's tokens and match the reference like the cpu test.
    [TestMethod]
    public void Greedy_SimtBackendMatchesCpuAndReference()
    {
        if (!Paged.Runtime.Backend.IsAvailable("simt"))
            Assert.Inconclusive("libpaged_simt.so is not built");
        var golden = LoadGolden();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens })).ToList();
        using var cpu = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { Device = "cpu", MaxNumSeqs = 8 });
        using var simt = LlmEngine.Create(SharedFiles.Stories260KBin, null, new EngineOptions { Device = "simt", MaxNumSeqs = 8 });
        StringAssert.Contains(simt.DeviceName, "simt");
        var expected = cpu.Generate(requests);
        var actual = simt.Generate(requests);
        for (int i = 0; i < golden.Count; i++)
        {
            var tokens = actual[i].TokenIds.ToArray();
            CollectionAssert.AreEqual(expected[i].TokenIds.ToArray(), tokens, $"simt vs cpu: '{golden[i].Prompt}'");
            AssertMatchesGolden(golden[i], actual[i], "simt batched");
        }

        Assert.AreEqual(simt.NumKvBlocks, simt.NumFreeKvBlocks, "every KV block is free once all requests finish");
    }

    [TestMethod]
    public void Greedy_IsIdenticalUnderChunkingTinyBatchesAndPreemption()
    {
        var golden = LoadGolden();
        var requests = golden.Select(g => (g.Prompt, new SamplingParams { MaxTokens = g.MaxTokens })).ToList();
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
