using System.Globalization;

namespace Paged.Models.Weights;

/// <summary>
/// The canonical tensor names every loader produces: Hugging Face's Llama-family names, so a safetensors checkpoint
/// needs no renaming and llama2.c/GGUF loaders map onto them.
/// </summary>
public static class WeightNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string Classifier = "lm_head.weight";

    public const string AttnNorm = "input_layernorm.weight";
    public const string QProj = "self_attn.q_proj.weight";
    public const string KProj = "self_attn.k_proj.weight";
    public const string VProj = "self_attn.v_proj.weight";
    public const string OProj = "self_attn.o_proj.weight";
    public const string QBias = "self_attn.q_proj.bias";
    public const string KBias = "self_attn.k_proj.bias";
    public const string VBias = "self_attn.v_proj.bias";
    public const string QNorm = "self_attn.q_norm.weight";
    public const string KNorm = "self_attn.k_norm.weight";
    public const string FfnNorm = "post_attention_layernorm.weight";
    public const string Gate = "mlp.gate_proj.weight";
    public const string Up = "mlp.up_proj.weight";
    public const string Down = "mlp.down_proj.weight";

    /// <summary>"model.layers.{layer}.{suffix}".</summary>
    public static string Layer(int layer, string suffix) =>
        string.Create(CultureInfo.InvariantCulture, $"model.layers.{layer}.{suffix}");
}
