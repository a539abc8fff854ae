using Paged.Models.Weights;

namespace Paged.Models.Decoders;

/// <summary>The tensors a Llama-family decoder with a given config needs, with their shapes (outermost first).</summary>
public static class DecoderTensors
{
    public static IReadOnlyDictionary<string, long[]> Expected(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long dim = config.Dim, q = config.QDim, kv = config.KvDim, hidden = config.HiddenDim, hs = config.HeadSize;
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            [WeightNames.Embedding] = [config.VocabSize, dim],
            [WeightNames.FinalNorm] = [dim],
        };
        if (!config.SharedClassifier)
            shapes[WeightNames.Classifier] = [config.VocabSize, dim];
        for (int l = 0; l < config.NumLayers; l++)
        {
            void Add(string suffix, params long[] shape) => shapes[WeightNames.Layer(l, suffix)] = shape;
            Add(WeightNames.AttnNorm, dim);
            Add(WeightNames.QProj, q, dim);
            Add(WeightNames.KProj, kv, dim);
            Add(WeightNames.VProj, kv, dim);
            Add(WeightNames.OProj, dim, q);
            if (config.AttentionBias)
            {
                Add(WeightNames.QBias, q);
                Add(WeightNames.KBias, kv);
                Add(WeightNames.VBias, kv);
            }

            if (config.QkNorm)
            {
                Add(WeightNames.QNorm, hs);
                Add(WeightNames.KNorm, hs);
            }

            Add(WeightNames.FfnNorm, dim);
            Add(WeightNames.Gate, hidden, dim);
            Add(WeightNames.Up, hidden, dim);
            Add(WeightNames.Down, dim, hidden);
        }

        return shapes;
    }
}
