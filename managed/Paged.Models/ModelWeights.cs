using System.Diagnostics.CodeAnalysis;

namespace Paged.Models;

/// <summary>Host-side fp32 weights of a Llama-architecture model.</summary>
[SuppressMessage("Performance", "CA1819:Properties should not return arrays",
    Justification = "Weights are handed to kernels and uploaded to devices as whole arrays; copying would defeat the purpose.")]
public sealed class ModelWeights
{
    /// <summary>Allocates zeroed weights for <paramref name="config"/>.</summary>
    public ModelWeights(ModelConfig config, string sourcePath)
        : this(config, sourcePath, NewMatrix(config), config?.SharedClassifier == false ? NewMatrix(config) : null)
    {
    }

    /// <summary>Wraps an already-loaded embedding (and classifier unless <paramref name="config"/> says it is shared).</summary>
    internal ModelWeights(ModelConfig config, string sourcePath, float[] tokenEmbedding, float[]? classifier)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(sourcePath);
        ArgumentNullException.ThrowIfNull(tokenEmbedding);
        Config = config;
        SourcePath = sourcePath;
        TokenEmbedding = tokenEmbedding;
        Classifier = config.SharedClassifier ? tokenEmbedding
            : classifier ?? throw new ArgumentNullException(nameof(classifier), "a separate classifier is required");
        Layers = new LayerWeights[config.NumLayers];
        for (int l = 0; l < Layers.Length; l++)
        {
            Layers[l] = new LayerWeights(config);
        }

        FinalNorm = new float[config.Dim];
    }

    public ModelConfig Config { get; }
    public string SourcePath { get; }

    /// <summary>Token embedding [vocab, dim].</summary>
    public float[] TokenEmbedding { get; }
    public LayerWeights[] Layers { get; }
    /// <summary>Final RMSNorm weight [dim].</summary>
    public float[] FinalNorm { get; }
    /// <summary>Output classifier [vocab, dim]; the same instance as <see cref="TokenEmbedding"/> when shared.</summary>
    public float[] Classifier { get; }

    private static float[] NewMatrix(ModelConfig? config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new float[(long)config.VocabSize * config.Dim];
    }

    /// <summary>Every tensor with a descriptive name (layer tensors as "layer N wq"); the shared classifier is listed once.</summary>
    public IEnumerable<(string Name, float[] Data)> AllTensors()
    {
        yield return ("token_embedding", TokenEmbedding);
        for (int l = 0; l < Layers.Length; l++)
        {
            foreach (var (name, data) in Layers[l].Tensors())
            {
                yield return ($"layer {l} {name}", data);
            }
        }

        yield return ("final_norm", FinalNorm);
        if (!ReferenceEquals(Classifier, TokenEmbedding))
        {
            yield return ("classifier", Classifier);
        }
    }

    /// <summary>Throws if any weight is NaN or infinite, naming the tensor.</summary>
    public void CheckFinite()
    {
        foreach (var (name, data) in AllTensors())
        {
            long bad = FloatChecks.IndexOfNonFinite(data);
            if (bad >= 0)
            {
                throw ModelFormatException.For(SourcePath, $"tensor {name} has a non-finite value ({data[bad]}) at element {bad}");
            }
        }
    }
}
