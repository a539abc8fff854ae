using System.Diagnostics.CodeAnalysis;

namespace Paged.Models;

/// <summary>One transformer block's fp32 weights; matrices are row-major [out, in].</summary>
[SuppressMessage("Performance", "CA1819:Properties should not return arrays",
    Justification = "Weights are handed to kernels and uploaded to devices as whole arrays; copying would defeat the purpose.")]
public sealed class LayerWeights
{
    public LayerWeights(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int dim = config.Dim, kv = config.KvDim, hidden = config.HiddenDim;
        AttnNorm = new float[dim];
        Wq = new float[(long)dim * dim];
        Wk = new float[(long)kv * dim];
        Wv = new float[(long)kv * dim];
        Wo = new float[(long)dim * dim];
        FfnNorm = new float[dim];
        W1 = new float[(long)hidden * dim];
        W2 = new float[(long)dim * hidden];
        W3 = new float[(long)hidden * dim];
    }

    /// <summary>Attention RMSNorm weight [dim].</summary>
    public float[] AttnNorm { get; }
    /// <summary>Query projection [dim, dim].</summary>
    public float[] Wq { get; }
    /// <summary>Key projection [kv_dim, dim].</summary>
    public float[] Wk { get; }
    /// <summary>Value projection [kv_dim, dim].</summary>
    public float[] Wv { get; }
    /// <summary>Attention output projection [dim, dim].</summary>
    public float[] Wo { get; }
    /// <summary>FFN RMSNorm weight [dim].</summary>
    public float[] FfnNorm { get; }
    /// <summary>Gate projection [hidden, dim] (GGUF ffn_gate).</summary>
    public float[] W1 { get; }
    /// <summary>Down projection [dim, hidden] (GGUF ffn_down).</summary>
    public float[] W2 { get; }
    /// <summary>Up projection [hidden, dim] (GGUF ffn_up).</summary>
    public float[] W3 { get; }

    /// <summary>(name, array) pairs in llama2.c file order, for validation and comparisons.</summary>
    public IEnumerable<(string Name, float[] Data)> Tensors()
    {
        yield return ("attn_norm", AttnNorm);
        yield return ("wq", Wq);
        yield return ("wk", Wk);
        yield return ("wv", Wv);
        yield return ("wo", Wo);
        yield return ("ffn_norm", FfnNorm);
        yield return ("w1", W1);
        yield return ("w2", W2);
        yield return ("w3", W3);
    }
}
