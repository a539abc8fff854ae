namespace Paged.Engine.Tests;

/// <summary>
/// Batch invariance (docs/rollouts.md): the tokens and logprobs (sampled tokens with their top alternatives, and prompt
/// logprobs) of one request are bit-identical whatever else is in the batch, however its prefill was chunked, and after
/// recompute and swap preemption, on each backend. The target request samples at temperature 0.9 with a fixed seed, so
/// any change in a logit's last bit would also show up as a different token sooner or later.
/// </summary>
[TestClass]
public sealed class BatchInvarianceTests
{
    private static readonly int[] TargetPrompt = RolloutModel.Prompt(new Random(77), 37);

    private static GenerationRequest Target => new()
    {
        PromptTokenIds = TargetPrompt,
        Sampling = new SamplingParams { Temperature = 0.9f, Seed = 11, Logprobs = 4, PromptLogprobs = 2, MaxTokens = 24, IgnoreEos = true },
    };

    /// <summary>Every number the request returned, as bits: sampled ids, their logprobs and alternatives, prompt logprobs.</summary>
    private static List<string> Fingerprint(RequestOutput o)
    {
        static string Of(TokenLogprobs? t) =>
            t is null ? "-" : $"{t.TokenId}:{BitConverter.SingleToInt32Bits(t.Logprob):x8}[{string.Join(",", t.Top.Select(e => $"{e.TokenId}:{BitConverter.SingleToInt32Bits(e.Logprob):x8}"))}]";
        Assert.IsNull(o.Error, o.Error);
        return [.. o.Logprobs!.Select(Of), "|", .. o.PromptLogprobs!.Select(Of)];
    }

    /// <summary>A bf16 checkpoint (untied classifier): on simt its linear layers stay bf16 and every matmul, the lm_head
    /// included, runs the SIMT GEMM kernel on them with <see cref="EngineOptions.BatchInvariant"/>.</summary>
    private static string TinyLlama3Bf16 => Path.Combine(SharedFiles.Root, "models", "hf-tiny", "tiny-llama3");

    private static List<string> Alone(string device, int chunk, string? model = null)
    {
        using var engine = RolloutModel.Engine(device, new EngineOptions { MaxNumSeqs = Math.Min(chunk, 8), MaxNumBatchedTokens = chunk }, model);
        return Fingerprint(engine.Generate([Target])[0]);
    }

    private static void AssertSame(List<string> expected, List<string> actual, string how)
    {
        Assert.HasCount(expected.Count, actual, how);
        for (int i = 0; i < expected.Count; i++)
            Assert.AreEqual(expected[i], actual[i], $"{how}: entry {i} differs");
    }

    private static void SkipIfMissing(string device)
    {
        if (!Paged.Runtime.Backend.IsAvailable(device))
            Assert.Inconclusive($"libpaged_{device}.so is not built");
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    [DataRow("cpu")]
    [DataRow("simt")]
    public void Chunk_size_does_not_change_a_bit(string device)
    {
        SkipIfMissing(device);
        var baseline = Alone(device, 64);
        AssertSame(baseline, Alone(device, 7), "prefill in chunks of 7");
        if (device == "cpu")
            AssertSame(baseline, Alone(device, 1), "prefill one token at a time");
    }

    /// <summary>Random others (1..64 of them: prompts of 1..60 tokens, greedy or sampled, some with prompt logprobs)
    /// arrive before and after the target, so its prefill and decode steps share batches of every composition.</summary>
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    [DataRow("cpu", 1)]
    [DataRow("cpu", 5)]
    [DataRow("cpu", 17)]
    [DataRow("cpu", 64)]
    [DataRow("simt", 3)]
    [DataRow("simt", 9)]
    public void Others_in_the_batch_do_not_change_a_bit(string device, int others) => AmongOthers(device, others, null);

    /// <summary>The same with half weights: 12 others put decode steps above and below the 8 rows where, without the
    /// flag, half-weight matmuls would leave the SIMT kernel.</summary>
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    [DataRow("cpu", 12)]
    [DataRow("simt", 12)]
    public void Others_in_the_batch_do_not_change_a_bit_with_bf16_weights(string device, int others) => AmongOthers(device, others, TinyLlama3Bf16);

    /// <summary>A sliding-window model (tiny-mistral, window 24): the 37-token prompt and 24 sampled tokens run well past
    /// the window, so the keys a row sees start inside the cache, at a place that the prefill chunking would move if key
    /// tiles started at the chunk's window rather than at absolute multiples of 32 (the simt prefill kernel's rule).</summary>
    [TestMethod]
    [Timeout(900_000, CooperativeCancellation = true)]
    [DataRow("cpu")]
    [DataRow("simt")]
    public void Sliding_window_chunking_and_others_do_not_change_a_bit(string device)
    {
        SkipIfMissing(device);
        var baseline = Alone(device, 64, TinyMistral);
        foreach (int chunk in new[] { 3, 5, 7, 11, 13 })
            AssertSame(baseline, Alone(device, chunk, TinyMistral), $"{device}, window 24, prefill in chunks of {chunk}");
        AmongOthers(device, 9, TinyMistral);
    }

    private static string TinyMistral => Path.Combine(SharedFiles.Root, "models", "hf-tiny", "tiny-mistral");

    private static void AmongOthers(string device, int others, string? model)
    {
        SkipIfMissing(device);
        var baseline = Alone(device, 64, model);
        var random = new Random(others * 31);
        using var engine = RolloutModel.Engine(device, new EngineOptions { MaxNumSeqs = others + 1, MaxNumBatchedTokens = 64 }, model);
        int before = random.Next(others + 1);
        for (int i = 0; i < before; i++)
            engine.AddRequest(Other(random));
        var done = new Dictionary<long, RequestOutput>();
        for (int steps = random.Next(4); steps > 0 && engine.HasUnfinishedRequests; steps--)
            Collect(engine.Step(), done);
        long target = engine.AddRequest(Target);
        for (int i = before; i < others; i++)
        {
            engine.AddRequest(Other(random));
            if (random.Next(3) == 0)
                Collect(engine.Step(), done);
        }

        RolloutModel.Drain(engine, done);
        AssertSame(baseline, Fingerprint(done[target]), $"{device}, among {others} others");
    }

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    [DataRow("cpu", PreemptionMode.Recompute)]
    [DataRow("cpu", PreemptionMode.Swap)]
    [DataRow("simt", PreemptionMode.Recompute)]
    [DataRow("simt", PreemptionMode.Swap)]
    public void Preemption_does_not_change_a_bit(string device, PreemptionMode mode)
    {
        SkipIfMissing(device);
        var baseline = Alone(device, 64);
        var random = new Random(3);
        // 10 blocks of 16 slots cannot hold six sequences of ~60 tokens: the latest arrival (the target) is preempted.
        using var engine = RolloutModel.Engine(device, new EngineOptions { MaxNumSeqs = 6, NumKvBlocks = 10, Preemption = mode, MaxNumBatchedTokens = 64 });
        for (int i = 0; i < 5; i++)
            engine.AddRequest(new GenerationRequest { PromptTokenIds = RolloutModel.Prompt(random, 30), Sampling = new SamplingParams { MaxTokens = 30, IgnoreEos = true } });
        long target = engine.AddRequest(Target);
        var done = RolloutModel.Drain(engine);
        Assert.IsGreaterThan(0, done[target].Timings.PreemptionCount, "the target must be preempted for this test to mean anything");
        AssertSame(baseline, Fingerprint(done[target]), $"{device}, {mode} preemption");
    }

    private static GenerationRequest Other(Random random)
    {
        var sampling = random.Next(3) switch
        {
            0 => new SamplingParams { MaxTokens = random.Next(1, 30) },
            1 => new SamplingParams { MaxTokens = random.Next(1, 30), Temperature = 1f, Logprobs = 2, N = random.Next(1, 3) },
            _ => new SamplingParams { MaxTokens = random.Next(1, 30), Temperature = 0.7f, TopP = 0.9f, PromptLogprobs = 1 },
        };
        return new GenerationRequest { PromptTokenIds = RolloutModel.Prompt(random, random.Next(1, 61)), Sampling = sampling };
    }

    private static void Collect(IReadOnlyList<RequestOutput> outputs, Dictionary<long, RequestOutput> done)
    {
        foreach (var o in outputs)
        {
            if (o.Finished)
                done[o.RequestId] = o;
        }
    }
}
