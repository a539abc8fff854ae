using System.Text;
using Paged.Models.Weights;

namespace Paged.Models.Hf;

/// <summary>
/// The tensors of a Hugging Face checkpoint: random ones of a given shape (benchmarks), or those of a loaded model
/// (llama2.c, GGUF) with q and k rows permuted as HF's Llama converter does, so that rotate-half RoPE computes what
/// the source's adjacent-pair RoPE did.
/// </summary>
public static class HfExport
{
    /// <summary>Uniform weights in [-0.05, 0.05) (each tensor its own stream, seeded from its name), RMSNorm weights 1.</summary>
    public static IReadOnlyList<CheckpointTensor> Random(ModelConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        const float amplitude = 0.05f;
        return [.. ModelRegistry.ForHf(config.Architecture, "make-model").ExpectedTensors(config).Select(pair =>
        {
            string name = pair.Key;
            ulong stream = seed ^ Fnv1a(name);
            bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            return new CheckpointTensor(name, pair.Value, (start, chunk) =>
            {
                for (int i = 0; i < chunk.Length; i++)
                    chunk[i] = norm ? 1f : SplitMix64.Uniform(stream, start + i) * amplitude;
            });
        })];
    }

    /// <summary>The model's tensors for a rotate-half checkpoint, and the config to write with them.</summary>
    public static (ModelConfig Config, IReadOnlyList<CheckpointTensor> Tensors) FromWeights(ModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var c = weights.Config;
        bool permute = c.RopeStyle == RopeStyle.AdjacentPairs;
        var tensors = new List<CheckpointTensor>();
        foreach (var t in weights.AllTensors)
        {
            long[] shape = [.. t.Shape];
            bool q = t.Name.EndsWith(WeightNames.QProj, StringComparison.Ordinal) || t.Name.EndsWith(WeightNames.QBias, StringComparison.Ordinal);
            bool k = t.Name.EndsWith(WeightNames.KProj, StringComparison.Ordinal) || t.Name.EndsWith(WeightNames.KBias, StringComparison.Ordinal);
            if (permute && (q || k))
            {
                long cols = shape.Length > 1 ? shape[1] : 1;
                tensors.Add(new CheckpointTensor(t.Name, shape, (start, chunk) =>
                {
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        long e = start + i;
                        long row = SourceRow(e / cols, c.HeadSize);
                        t.ReadF32((row * cols) + (e % cols), chunk.Slice(i, 1));
                    }
                }));
            }
            else
            {
                tensors.Add(new CheckpointTensor(t.Name, shape, t.ReadF32));
            }
        }

        return (c with { RopeStyle = RopeStyle.RotateHalf }, tensors);
    }

    /// <summary>
    /// HF's permute(w) = w.view(heads, hs/2, 2, in).transpose(1, 2): row (h, half, j) of the result is row
    /// (h, j, half) of the source, i.e. adjacent pair j's two members move to j and j + hs/2.
    /// </summary>
    public static long SourceRow(long row, int headSize)
    {
        long head = row / headSize, within = row % headSize, half = within / (headSize / 2), j = within % (headSize / 2);
        return (head * headSize) + (2 * j) + half;
    }

    private static ulong Fnv1a(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
            h = (h ^ b) * 1099511628211UL;
        return h;
    }
}
