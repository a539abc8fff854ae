using Paged.Models.Hf;

namespace Paged.Models.Architectures;

/// <summary>Qwen3 (dense): per-head RMSNorm on queries and keys before RoPE; head_dim independent of hidden_size.</summary>
public sealed class Qwen3Architecture : ModelArchitecture
{
    public override string HfName => "Qwen3ForCausalLM";

    public override IReadOnlyList<string> GgufNames => ["qwen3"];

    public override ModelConfig Configure(ModelConfig config, HfJson? json)
    {
        RejectQwenSlidingWindow(json);
        return config with { QkNorm = true, AttentionBias = json?.GetBool("attention_bias") ?? config.AttentionBias };
    }
}
