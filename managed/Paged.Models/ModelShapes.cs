using Paged.Models.Weights;

namespace Paged.Models;

/// <summary>
/// Configurations of real models (from their config.json on the Hub), for random-weight models of real shape:
/// benchmarks need the shapes, not the weights.
/// </summary>
public static class ModelShapes
{
    private static readonly Dictionary<string, ModelConfig> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        // llama2.c's TinyStories models with the Llama 2 vocabulary (the existing make-model shapes).
        ["stories15M"] = Llama2c(dim: 288, hidden: 768, layers: 6, heads: 6),
        ["stories110M"] = Llama2c(dim: 768, hidden: 2048, layers: 12, heads: 12),
        ["llama-3.2-1b"] = new ModelConfig
        {
            Architecture = "LlamaForCausalLM", Dim = 2048, HiddenDim = 8192, NumLayers = 16, NumHeads = 32, NumKvHeads = 8, HeadDim = 64,
            VocabSize = 128256, MaxSeqLen = 131072, NormEps = 1e-5f, RopeTheta = 500000f, RopeStyle = RopeStyle.RotateHalf,
            RopeScaling = new RopeScaling { Type = RopeScalingType.Llama3, Factor = 32, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositions = 8192 },
            SharedClassifier = true, BosId = 128000, EosId = 128001, StopTokenIds = [128001, 128008, 128009], DType = WeightDType.BF16,
            Generation = new GenerationDefaults { Temperature = 0.6f, TopP = 0.9f },
        },
        ["qwen2.5-0.5b"] = new ModelConfig
        {
            Architecture = "Qwen2ForCausalLM", Dim = 896, HiddenDim = 4864, NumLayers = 24, NumHeads = 14, NumKvHeads = 2,
            VocabSize = 151936, MaxSeqLen = 32768, NormEps = 1e-6f, RopeTheta = 1000000f, RopeStyle = RopeStyle.RotateHalf,
            AttentionBias = true, SharedClassifier = true, BosId = -1, EosId = 151645, StopTokenIds = [151645, 151643], DType = WeightDType.BF16,
            Generation = new GenerationDefaults { Temperature = 0.7f, TopP = 0.8f, TopK = 20, RepetitionPenalty = 1.05f },
        },
        ["qwen3-0.6b"] = new ModelConfig
        {
            Architecture = "Qwen3ForCausalLM", Dim = 1024, HiddenDim = 3072, NumLayers = 28, NumHeads = 16, NumKvHeads = 8, HeadDim = 128,
            VocabSize = 151936, MaxSeqLen = 40960, NormEps = 1e-6f, RopeTheta = 1000000f, RopeStyle = RopeStyle.RotateHalf,
            QkNorm = true, SharedClassifier = true, BosId = -1, EosId = 151645, StopTokenIds = [151645, 151643], DType = WeightDType.BF16,
            Generation = new GenerationDefaults { Temperature = 0.6f, TopP = 0.95f, TopK = 20, MinP = 0f },
        },
        ["mistral-7b"] = new ModelConfig
        {
            Architecture = "MistralForCausalLM", Dim = 4096, HiddenDim = 14336, NumLayers = 32, NumHeads = 32, NumKvHeads = 8,
            VocabSize = 32000, MaxSeqLen = 32768, NormEps = 1e-5f, RopeTheta = 10000f, RopeStyle = RopeStyle.RotateHalf,
            SlidingWindow = 4096, SharedClassifier = false, BosId = 1, EosId = 2, StopTokenIds = [2], DType = WeightDType.BF16,
        },
        ["tinyllama-1.1b"] = new ModelConfig
        {
            Architecture = "LlamaForCausalLM", Dim = 2048, HiddenDim = 5632, NumLayers = 22, NumHeads = 32, NumKvHeads = 4,
            VocabSize = 32000, MaxSeqLen = 2048, NormEps = 1e-5f, RopeTheta = 10000f, RopeStyle = RopeStyle.RotateHalf,
            SharedClassifier = false, BosId = 1, EosId = 2, StopTokenIds = [2], DType = WeightDType.BF16,
        },
    };

    public static IReadOnlyCollection<string> Names => Known.Keys;

    /// <summary>The named shape; an <see cref="ArgumentException"/> lists the known ones.</summary>
    public static ModelConfig Get(string name) =>
        Known.TryGetValue(name, out var c) ? c : throw new ArgumentException($"unknown model shape '{name}' (known: {string.Join(", ", Known.Keys)})");

    /// <summary>The llama2.c "stories" shapes: Llama 2 vocabulary, 1024-token context, adjacent-pair RoPE.</summary>
    private static ModelConfig Llama2c(int dim, int hidden, int layers, int heads) => new()
    {
        Dim = dim, HiddenDim = hidden, NumLayers = layers, NumHeads = heads, NumKvHeads = heads, VocabSize = 32000, MaxSeqLen = 1024,
    };
}
