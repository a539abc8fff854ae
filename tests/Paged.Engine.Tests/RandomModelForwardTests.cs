using System.Globalization;
using Paged.Models;

namespace Paged.Engine.Tests;

/// <summary>
/// The whole engine (scheduler, paged KV cache, chunked prefill, the backend's kernels, sampling with raw
/// logprobs) on random-weight models of GQA ratio 1, 4 and 8 and head sizes 64 and 128, against
/// <see cref="ReferenceForward"/>, a plain double-precision forward pass teacher-forced on the engine's tokens.
/// </summary>
[TestClass]
public sealed class RandomModelForwardTests
{
    private const int Heads = 8, Vocab = 300, PromptLength = 29, MaxTokens = 8;

    /// <summary>
    /// Logprob tolerance. The engine computes in fp32: dot products of length <= 1024 with relative error
    /// ~sqrt(n) * 6e-8, through two layers, the final norm and a log-softmax over 300 logits of size ~1. The
    /// largest error seen is ~2e-6; 1e-4 leaves a wide margin yet fails on any real mistake (a wrong KV head or
    /// RoPE pair moves logprobs by 1e-2 and more).
    /// </summary>
    private const double Tolerance = 1e-4;

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    [DataRow("cpu", 1, 64)]
    [DataRow("cpu", 4, 64)]
    [DataRow("cpu", 8, 64)]
    [DataRow("cpu", 1, 128)]
    [DataRow("cpu", 4, 128)]
    [DataRow("cpu", 8, 128)]
    [DataRow("simt", 4, 64)]
    [DataRow("simt", 8, 128)]
    public void Engine_logprobs_match_a_double_precision_reference(string device, int gqa, int headSize)
    {
        if (!Paged.Runtime.Backend.IsAvailable(device))
            Assert.Inconclusive($"libpaged_{device}.so is not built");
        var config = new ModelConfig
        {
            Dim = Heads * headSize, HiddenDim = 128, NumLayers = 2, NumHeads = Heads, NumKvHeads = Heads / gqa,
            VocabSize = Vocab, MaxSeqLen = 64,
        };
        string dir = Path.Combine(Path.GetTempPath(), "paged-gqa-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "model.bin");
            RandomModelWriter.WriteLlama2c(path, config, (ulong)((gqa * 1000) + headSize));
            RandomModelWriter.WriteSyntheticTokenizer(Path.Combine(dir, "tok300.bin"), Vocab);
            var random = new Random(gqa + headSize);
            int[] prompt = [1, .. Enumerable.Range(1, PromptLength - 1).Select(_ => random.Next(3, Vocab))];

            // A 16-token budget splits the 29-token prompt into chunks: prefill attends to an already cached prefix.
            using var engine = LlmEngine.Create(path, null, new EngineOptions { Device = device, MaxNumBatchedTokens = 16 });
            engine.AddRequest("", prompt, new SamplingParams { MaxTokens = MaxTokens, Logprobs = 20 });
            RequestOutput? output = null;
            while (engine.HasUnfinishedRequests)
            {
                foreach (var o in engine.Step())
                    output = o;
            }

            Assert.IsNotNull(output);
            var generated = output.TokenIds.ToArray();
            var logprobs = output.Logprobs!;
            Assert.HasCount(generated.Length, logprobs);
            var reference = new ReferenceForward(Llama2cCheckpoint.Load(path)).LogProbs([.. prompt, .. generated]);
            double worst = 0;
            for (int i = 0; i < generated.Length; i++)
            {
                var expected = reference[PromptLength - 1 + i];
                var step = logprobs[i];
                Assert.AreEqual(generated[i], step.TokenId);
                // Greedy: the chosen token is the reference's best unless the reference has a near-tie there.
                double best = expected.Max();
                Assert.IsGreaterThanOrEqualTo(best - (2 * Tolerance), expected[generated[i]], $"step {i}: chose {generated[i]}, reference best {Array.IndexOf(expected, best)}");
                foreach (var (id, lp) in step.Top.Append(new LogprobEntry(step.TokenId, step.Logprob)))
                {
                    double error = Math.Abs(lp - expected[id]);
                    worst = Math.Max(worst, error);
                    Assert.IsLessThanOrEqualTo(Tolerance, error, string.Create(CultureInfo.InvariantCulture,
                        $"step {i}, token {id}: engine logprob {lp}, reference {expected[id]:R} (gqa {gqa}, head {headSize}, {device})"));
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{device} gqa {gqa} head {headSize}: {generated.Length} tokens, max logprob error {worst:E2}"));
            Assert.AreEqual(engine.NumKvBlocks, engine.NumFreeKvBlocks);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
