using Paged.Models.Hf;

namespace Paged.Models.Architectures;

/// <summary>Llama 1/2/3 (and llama2.c, TinyLlama): the base decoder; optional q/k/v/o bias (attention_bias).</summary>
public sealed class LlamaArchitecture : ModelArchitecture
{
    public override string HfName => "LlamaForCausalLM";

    public override IReadOnlyList<string> GgufNames => ["llama"];

    public override RopeStyle GgufRopeStyle => RopeStyle.AdjacentPairs;

    public override ModelConfig Configure(ModelConfig config, HfJson? json)
    {
        RejectMlpBias(json);
        return json is null ? config : config with { AttentionBias = json.GetBool("attention_bias") ?? false };
    }
}
