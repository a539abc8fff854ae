using Paged.Runtime;

namespace Paged.Models.Llama;

/// <summary>
/// The model's weights on the device, fused for fewer, larger matmuls: per layer [wq; wk; wv] as one
/// [dim + 2 kv_dim, dim] matrix and [w1; w3] as one [2 hidden, dim] matrix.
/// </summary>
internal sealed class LlamaDeviceWeights : IDisposable
{
    private readonly List<DeviceBuffer> _owned = [];

    public LlamaDeviceWeights(DeviceContext ctx, ModelWeights weights)
    {
        try
        {
            TokenEmbedding = Upload(ctx, weights.TokenEmbedding);
            FinalNorm = Upload(ctx, weights.FinalNorm);
            Classifier = ReferenceEquals(weights.Classifier, weights.TokenEmbedding) ? TokenEmbedding : Upload(ctx, weights.Classifier);
            Layers = new LayerBuffers[weights.Layers.Length];
            for (int l = 0; l < Layers.Length; l++)
            {
                var lw = weights.Layers[l];
                Layers[l] = new LayerBuffers(
                    Upload(ctx, lw.AttnNorm),
                    Upload(ctx, Concat(lw.Wq, lw.Wk, lw.Wv)),
                    Upload(ctx, lw.Wo),
                    Upload(ctx, lw.FfnNorm),
                    Upload(ctx, Concat(lw.W1, lw.W3)),
                    Upload(ctx, lw.W2));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DeviceBuffer TokenEmbedding { get; } = null!;

    public DeviceBuffer FinalNorm { get; } = null!;

    public DeviceBuffer Classifier { get; } = null!;

    public LayerBuffers[] Layers { get; } = [];

    private DeviceBuffer Upload(DeviceContext ctx, float[] data)
    {
        var buffer = ctx.Upload<float>(data);
        _owned.Add(buffer);
        return buffer;
    }

    private static float[] Concat(params float[][] parts)
    {
        var result = new float[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in parts)
        {
            p.CopyTo(result, offset);
            offset += p.Length;
        }

        return result;
    }

    public void Dispose()
    {
        foreach (var b in _owned)
            b.Dispose();
        _owned.Clear();
    }

    internal sealed record LayerBuffers(
        DeviceBuffer AttnNorm, DeviceBuffer Wqkv, DeviceBuffer Wo, DeviceBuffer FfnNorm, DeviceBuffer W13, DeviceBuffer W2);
}
