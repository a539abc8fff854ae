using Paged.Models;
using Paged.Models.Weights;

namespace Paged.Engine.Tests;

/// <summary>
/// A plain C# Llama forward pass with double accumulation, written from the llama2.c description in
/// shared/models/README.md (RMSNorm eps from the config, adjacent-pair RoPE with theta 10000, causal
/// attention where query head h reads KV head h / (heads / kv_heads), SiLU-gated FFN, tied or separate
/// classifier). It shares no code with the engine: it exists to check the engine end to end.
/// </summary>
internal sealed class ReferenceForward(ModelWeights weights)
{
    private readonly ModelConfig _c = weights.Config;
    private readonly float[] _embedding = weights.Require(WeightNames.Embedding).ToArray();
    private readonly float[] _classifier = weights.Classifier.ToArray();
    private readonly Dictionary<string, float[]> _tensors = [];

    /// <summary>A weight as fp32 values (read once).</summary>
    private float[] Tensor(string name)
    {
        if (!_tensors.TryGetValue(name, out var data))
            _tensors[name] = data = weights.Require(name).ToArray();
        return data;
    }

    /// <summary>Log-softmax of the logits after each of <paramref name="tokens"/> (teacher-forced from position 0).</summary>
    public double[][] LogProbs(IReadOnlyList<int> tokens)
    {
        int dim = _c.Dim, kvDim = _c.KvDim, layers = _c.NumLayers, head = _c.HeadSize;
        var keys = new double[layers][];
        var values = new double[layers][];
        for (int l = 0; l < layers; l++)
        {
            keys[l] = new double[tokens.Count * kvDim];
            values[l] = new double[tokens.Count * kvDim];
        }

        var result = new double[tokens.Count][];
        for (int pos = 0; pos < tokens.Count; pos++)
        {
            var x = _embedding.AsSpan(tokens[pos] * dim, dim).ToArray().Select(v => (double)v).ToArray();
            for (int l = 0; l < layers; l++)
            {
                float[] W(string name) => Tensor(WeightNames.Layer(l, name));
                var xb = RmsNorm(x, W(WeightNames.AttnNorm));
                var q = MatVec(W(WeightNames.QProj), xb, dim);
                var k = MatVec(W(WeightNames.KProj), xb, kvDim);
                var v = MatVec(W(WeightNames.VProj), xb, kvDim);
                Rope(q, pos, head);
                Rope(k, pos, head);
                k.CopyTo(keys[l], pos * kvDim);
                v.CopyTo(values[l], pos * kvDim);
                var attn = Attention(q, keys[l], values[l], pos);
                Add(x, MatVec(W(WeightNames.OProj), attn, dim));
                xb = RmsNorm(x, W(WeightNames.FfnNorm));
                var gate = MatVec(W(WeightNames.Gate), xb, _c.HiddenDim);
                var up = MatVec(W(WeightNames.Up), xb, _c.HiddenDim);
                for (int i = 0; i < gate.Length; i++)
                    gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                Add(x, MatVec(W(WeightNames.Down), gate, dim));
            }

            var logits = MatVec(_classifier, RmsNorm(x, Tensor(WeightNames.FinalNorm)), _c.VocabSize);
            double max = logits.Max();
            double logSum = Math.Log(logits.Sum(z => Math.Exp(z - max))) + max;
            result[pos] = [.. logits.Select(z => z - logSum)];
        }

        return result;
    }

    private double[] Attention(double[] q, double[] keys, double[] values, int pos)
    {
        int head = _c.HeadSize, kvDim = _c.KvDim, group = _c.KvGroupSize;
        var output = new double[q.Length];
        var scores = new double[pos + 1];
        double scale = 1 / Math.Sqrt(head);
        for (int h = 0; h < _c.NumHeads; h++)
        {
            int kv = h / group * head;
            for (int t = 0; t <= pos; t++)
            {
                double dot = 0;
                for (int d = 0; d < head; d++)
                    dot += q[(h * head) + d] * keys[(t * kvDim) + kv + d];
                scores[t] = dot * scale;
            }

            double max = scores.Max(), sum = 0;
            for (int t = 0; t <= pos; t++)
                sum += scores[t] = Math.Exp(scores[t] - max);
            for (int t = 0; t <= pos; t++)
            {
                for (int d = 0; d < head; d++)
                    output[(h * head) + d] += scores[t] / sum * values[(t * kvDim) + kv + d];
            }
        }

        return output;
    }

    private double[] RmsNorm(double[] x, float[] weight)
    {
        double ss = x.Sum(v => v * v) / x.Length;
        double inv = 1 / Math.Sqrt(ss + _c.NormEps);
        return [.. x.Select((v, i) => v * inv * weight[i])];
    }

    /// <summary>Rotates adjacent pairs (i, i+1) of each head by pos * theta^(-i / head_size).</summary>
    private void Rope(double[] v, int pos, int head)
    {
        for (int i = 0; i < v.Length; i += 2)
        {
            int j = i % head;
            double angle = pos * Math.Pow(_c.RopeTheta, -(double)j / head);
            double c = Math.Cos(angle), s = Math.Sin(angle), a = v[i], b = v[i + 1];
            v[i] = (a * c) - (b * s);
            v[i + 1] = (a * s) + (b * c);
        }
    }

    /// <summary>Row-major [rows, x.Length] matrix times x.</summary>
    private static double[] MatVec(float[] matrix, double[] x, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            var row = matrix.AsSpan(r * x.Length, x.Length);
            double acc = 0;
            for (int i = 0; i < x.Length; i++)
                acc += row[i] * x[i];
            y[r] = acc;
        }

        return y;
    }

    private static void Add(double[] x, double[] y)
    {
        for (int i = 0; i < x.Length; i++)
            x[i] += y[i];
    }
}
