using Paged.Models.Architectures;
using Paged.Runtime;

namespace Paged.Models;

/// <summary>The architectures Paged runs, by Hugging Face and GGUF name, and the factory of their forward passes.</summary>
public static class ModelRegistry
{
    private static readonly ModelArchitecture[] Known =
    [
        new LlamaArchitecture(),
        new MistralArchitecture(),
        new Qwen2Architecture(),
        new Qwen3Architecture(),
    ];

    public static IReadOnlyList<ModelArchitecture> Architectures => Known;

    /// <summary>The architecture with config.json name <paramref name="name"/>; <paramref name="path"/> names the file in the error.</summary>
    public static ModelArchitecture ForHf(string name, string path) =>
        Array.Find(Known, a => a.HfName == name) ?? throw ModelFormatException.For(path,
            $"architecture {name} is not supported (supported: {string.Join(", ", Known.Select(a => a.HfName))})");

    /// <summary>The architecture with GGUF general.architecture <paramref name="name"/>.</summary>
    public static ModelArchitecture ForGguf(string name, string path) =>
        Array.Find(Known, a => a.GgufNames.Contains(name)) ?? throw ModelFormatException.For(path,
            $"general.architecture is {name}; supported: {string.Join(", ", Known.SelectMany(a => a.GgufNames))}");

    /// <summary>Builds the forward pass for <paramref name="weights"/> (uploading them to <paramref name="context"/>).</summary>
    public static ICausalLM Create(DeviceContext context, ModelWeights weights, ModelCapacity capacity)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return ForHf(weights.Config.Architecture, weights.SourcePath).Create(context, weights, capacity);
    }
}
