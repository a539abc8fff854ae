using Paged.Models.Hf;

namespace Paged.Models.Architectures;

/// <summary>Mistral: the Llama decoder with sliding-window attention over every layer.</summary>
public sealed class MistralArchitecture : ModelArchitecture
{
    public override string HfName => "MistralForCausalLM";

    public override IReadOnlyList<string> GgufNames => ["mistral"];

    public override RopeStyle GgufRopeStyle => RopeStyle.AdjacentPairs;

    public override ModelConfig Configure(ModelConfig config, HfJson? json) =>
        json is null ? config : config with { SlidingWindow = json.GetInt("sliding_window") ?? 0 };
}
