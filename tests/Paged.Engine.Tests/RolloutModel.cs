using Paged.Models;

namespace Paged.Engine.Tests;

/// <summary>
/// A random-weight llama2c model for the rollout tests (prompt logprobs, batch invariance, weight updates): small
/// enough for the emulator, with awkward sizes (GQA 2, head size 64, hidden 96, vocab 300). Written once per test run to a temp
/// directory; <see cref="Write"/> makes other seeds of the same shape (new weights).
/// </summary>
internal static class RolloutModel
{
    public const int Vocab = 300;

    public static ModelConfig Config { get; } = new()
    {
        Dim = 128, HiddenDim = 96, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = Vocab, MaxSeqLen = 192,
    };

    private static readonly Lazy<string> Dir = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "paged-rollout-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        RandomModelWriter.WriteSyntheticTokenizer(Path.Combine(dir, "tok300.bin"), Vocab);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return dir;
    });

    /// <summary>The model of seed 1.</summary>
    public static string Path1 { get; } = Write(1);

    /// <summary>The model file of <paramref name="seed"/> (written on first use).</summary>
    public static string Write(ulong seed)
    {
        string path = Path.Combine(Dir.Value, $"model{seed}.bin");
        lock (Dir)
        {
            if (!File.Exists(path))
                RandomModelWriter.WriteLlama2c(path, Config, seed);
        }

        return path;
    }

    /// <summary>A prompt of <paramref name="length"/> tokens: BOS then random ids.</summary>
    public static int[] Prompt(Random random, int length) => [1, .. Enumerable.Range(1, length - 1).Select(_ => random.Next(3, Vocab))];

    /// <summary>An engine on <paramref name="device"/>; simt and cuda get <see cref="EngineOptions.BatchInvariant"/>, cpu keeps the
    /// default (its one attention code path is batch invariant anyway, which the invariance tests check).</summary>
    public static LlmEngine Engine(string device, EngineOptions options, string? path = null) =>
        LlmEngine.Create(path ?? Path1, null, options with { Device = device, BatchInvariant = device != "cpu" });

    /// <summary>Runs the engine until every request finished; the final outputs by request id.</summary>
    public static Dictionary<long, RequestOutput> Drain(LlmEngine engine, Dictionary<long, RequestOutput>? into = null)
    {
        into ??= [];
        while (engine.HasUnfinishedRequests)
        {
            foreach (var o in engine.Step())
            {
                if (o.Finished)
                    into[o.RequestId] = o;
            }
        }

        return into;
    }
}
