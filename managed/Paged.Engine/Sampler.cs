using System.Numerics.Tensors;

namespace Paged.Engine;

/// <summary>
/// Chooses the next token from one row of logits (v0, on the host; the fused sampling issue moves
/// this into a kernel). Order as in vLLM: temperature, top-k, top-p, then a draw.
/// </summary>
public sealed class Sampler
{
    private float[] _probs = [];
    private int[] _order = [];

    /// <summary>Greedy: the index of the largest logit, ties to the lowest id.</summary>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        float bestValue = logits[0];
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > bestValue)
            {
                bestValue = logits[i];
                best = i;
            }
        }

        return best;
    }

    public int Sample(ReadOnlySpan<float> logits, SamplingParams p, SamplingRandom random)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(random);
        if (p.IsGreedy)
            return Argmax(logits);

        int n = logits.Length;
        if (_probs.Length < n)
        {
            _probs = new float[n];
            _order = new int[n];
        }

        var probs = _probs.AsSpan(0, n);
        TensorPrimitives.Divide(logits, p.Temperature, probs);
        TensorPrimitives.SoftMax(probs, probs);

        // Candidates sorted by probability (descending, ties by id) only when a filter needs them.
        int kept = n;
        bool filter = (p.TopK > 0 && p.TopK < n) || p.TopP < 1f;
        var order = _order.AsSpan(0, n);
        if (filter)
        {
            for (int i = 0; i < n; i++)
                order[i] = i;
            var probsArray = _probs;
            order.Sort((a, b) => probsArray[a] != probsArray[b] ? probsArray[b].CompareTo(probsArray[a]) : a.CompareTo(b));
            if (p.TopK > 0)
                kept = Math.Min(kept, p.TopK);
            if (p.TopP < 1f)
            {
                double cumulative = 0;
                for (int i = 0; i < kept; i++)
                {
                    cumulative += probs[order[i]];
                    if (cumulative >= p.TopP)
                    {
                        kept = i + 1;
                        break;
                    }
                }
            }
        }

        double total = 0;
        for (int i = 0; i < kept; i++)
            total += probs[filter ? order[i] : i];
        double u = random.NextDouble() * total;
        double acc = 0;
        for (int i = 0; i < kept; i++)
        {
            int id = filter ? order[i] : i;
            acc += probs[id];
            if (u < acc)
                return id;
        }

        return filter ? order[kept - 1] : kept - 1;
    }
}
