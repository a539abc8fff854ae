using Paged.Models.Hf;

namespace Paged.Models.Architectures;

/// <summary>Qwen2 / Qwen2.5: the Llama decoder with biases on the q, k and v projections.</summary>
public sealed class Qwen2Architecture : ModelArchitecture
{
    public override string HfName => "Qwen2ForCausalLM";

    public override IReadOnlyList<string> GgufNames => ["qwen2"];

    public override ModelConfig Configure(ModelConfig config, HfJson? json)
    {
        RejectQwenSlidingWindow(json);
        return config with { AttentionBias = true };
    }
}
