using Paged.Models.Decoders;
using Paged.Models.Hf;
using Paged.Runtime;

namespace Paged.Models.Architectures;

/// <summary>
/// One model architecture: its names (Hugging Face <c>architectures</c> entry, GGUF <c>general.architecture</c>),
/// the features its config implies, and how to build its forward pass. Register new ones in <see cref="ModelRegistry"/>.
/// </summary>
public abstract class ModelArchitecture
{
    /// <summary>The config.json <c>architectures</c> name, e.g. "Qwen2ForCausalLM".</summary>
    public abstract string HfName { get; }

    /// <summary>GGUF <c>general.architecture</c> values that mean this architecture.</summary>
    public abstract IReadOnlyList<string> GgufNames { get; }

    /// <summary>How GGUF files of this architecture pair RoPE dimensions (llama.cpp un-permutes Llama q/k to adjacent pairs).</summary>
    public virtual RopeStyle GgufRopeStyle => RopeStyle.RotateHalf;

    /// <summary>
    /// Adds the architecture's features to a config read generically; <paramref name="json"/> is config.json, or
    /// null for a GGUF file (then only what the architecture implies). Refuses options the forward pass lacks.
    /// </summary>
    public virtual ModelConfig Configure(ModelConfig config, HfJson? json) => config;

    /// <summary>The tensors (canonical names, shapes) a model with <paramref name="config"/> needs; loaders check them up front.</summary>
    public virtual IReadOnlyDictionary<string, long[]> ExpectedTensors(ModelConfig config) => DecoderTensors.Expected(config);

    /// <summary>Uploads the weights and builds the forward pass.</summary>
    public virtual ICausalLM Create(DeviceContext context, ModelWeights weights, ModelCapacity capacity) =>
        new DecoderModel(context, weights, capacity);

    /// <summary>Refuses a Qwen-style <c>use_sliding_window: true</c>, whose per-layer window is not implemented.</summary>
    protected static void RejectQwenSlidingWindow(HfJson? json)
    {
        if (json is not null && json.GetBool("use_sliding_window") == true)
            throw json.Fail("use_sliding_window is true; per-layer sliding windows (max_window_layers) are not supported");
    }

    /// <summary>Refuses an MLP with biases (<c>mlp_bias: true</c>).</summary>
    protected static void RejectMlpBias(HfJson? json)
    {
        if (json is not null && json.GetBool("mlp_bias") == true)
            throw json.Fail("mlp_bias is true; biases in the MLP are not supported");
    }
}
