using Paged.Runtime;

namespace Paged.Models.Tests;

/// <summary>
/// Greedy decoding straight through an <see cref="ICausalLM"/> (no engine): all prompts prefilled in one step, then
/// one decode step per token for every sequence together, each sequence in its own blocks of the paged KV cache.
/// Logits come back to the host, so the test can take argmax and log-softmax itself.
/// </summary>
internal static class GreedyDecoder
{
    private const int BlockSize = 16;

    public sealed record Result(int[] Tokens, double[][] FirstStepLogprobs);

    public static Result[] Run(string backend, string modelPath, IReadOnlyList<int[]> prompts, int maxTokens, int logprobSteps,
        Func<ModelWeights, ModelWeights>? alter = null, bool closeWeightsAfterCreate = false)
    {
        using var ctx = Backend.Load(backend).CreateContext();
        using var loaded = ModelLoader.Load(modelPath);
        var weights = alter is null ? loaded : alter(loaded);
        var c = weights.Config;
        int longest = prompts.Max(p => p.Length) + maxTokens;
        int blocksPerSeq = (longest + BlockSize - 1) / BlockSize;
        int seqs = prompts.Count;
        int totalTokens = prompts.Sum(p => p.Length);
        using var model = ModelRegistry.Create(ctx, weights, new ModelCapacity(Math.Max(totalTokens, seqs), seqs, blocksPerSeq));
        if (closeWeightsAfterCreate)
            loaded.Dispose(); // as the CLI does: the model must not need the loader's mapped files any more
        using var cache = new KvCache(ctx, seqs * blocksPerSeq, c.NumLayers, c.NumKvHeads, BlockSize, c.HeadSize);
        using var logits = ctx.Allocate<float>((long)seqs * c.VocabSize);
        var batch = new StepBatch(model.MaxTokens, seqs, blocksPerSeq);
        var tables = Enumerable.Range(0, seqs).Select(s => Enumerable.Range(s * blocksPerSeq, blocksPerSeq).ToArray()).ToArray();
        var tokens = prompts.Select(p => new List<int>(p)).ToArray();
        var logprobs = prompts.Select(_ => new List<double[]>()).ToArray();
        var host = new float[seqs * c.VocabSize];
        for (int step = 0; step < maxTokens; step++)
        {
            batch.Clear();
            for (int s = 0; s < seqs; s++)
            {
                int start = step == 0 ? 0 : tokens[s].Count - 1;
                int last = batch.AddSequence(tokens[s].ToArray().AsSpan(start), start, tables[s], BlockSize);
                batch.AddLogitRow(last);
            }

            model.Forward(batch, cache);
            ctx.CopyDeviceToDevice(logits.Address, model.LogitsAddress, (long)seqs * c.VocabSize * sizeof(float));
            logits.CopyTo<float>(host);
            for (int s = 0; s < seqs; s++)
            {
                var row = host.AsSpan(s * c.VocabSize, c.VocabSize);
                tokens[s].Add(ArgMax(row));
                if (step < logprobSteps)
                    logprobs[s].Add(LogSoftmax(row));
            }
        }

        return [.. prompts.Select((p, s) => new Result([.. tokens[s].Skip(p.Length)], [.. logprobs[s]]))];
    }

    /// <summary>First index of the largest value (torch.argmax's tie rule).</summary>
    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
                best = i;
        }

        return best;
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> row)
    {
        double max = double.NegativeInfinity;
        foreach (float v in row)
            max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in row)
            sum += Math.Exp(v - max);
        double log = max + Math.Log(sum);
        var result = new double[row.Length];
        for (int i = 0; i < row.Length; i++)
            result[i] = row[i] - log;
        return result;
    }
}
