using Paged.Models.Weights;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Decoders;

/// <summary>
/// A decoder's weights on the device (in their stored dtype where the backend reads it, see
/// <see cref="DeviceWeightDTypes"/>, else fp32; on the CPU in place from the mapped file), fused
/// for fewer, larger matmuls: per layer q, k, v as one
/// [q_dim + 2 kv_dim, dim] linear (with its fused bias when the model has one) and gate, up as one [2 hidden, dim].
/// Every tensor is looked up by name with its expected shape, so a missing or mis-shaped tensor is a clear error.
/// </summary>
internal sealed class DecoderWeights : IDisposable
{
    private readonly List<DeviceBuffer> _owned;

    /// <summary>The backend's name: which stored dtypes stay as they are (<see cref="DeviceWeightDTypes"/>).</summary>
    private readonly string _backend;

    public DecoderWeights(DeviceContext ctx, ModelWeights weights)
    {
        var c = weights.Config;
        _backend = ctx.Backend.Name;
        var up = new WeightUploader(ctx, weights.SourcePath);
        _owned = up.Owned;
        try
        {
            var shapes = DecoderTensors.Expected(c);
            WeightTensor Get(string name) => weights.Require(name, shapes[name]);
            (TokenEmbedding, TokenEmbeddingDType) = Table(up, Get(WeightNames.Embedding));
            FinalNorm = up.Upload(Get(WeightNames.FinalNorm));
            var (classifier, classifierDType) = c.SharedClassifier ? (TokenEmbedding, TokenEmbeddingDType) : UntiedClassifier(up, Get(WeightNames.Classifier));
            Classifier = classifier;
            RopeInvFreq = c.RopeStyle == RopeStyle.RotateHalf ? up.Upload(RopeFrequencies.Compute(c)) : null;
            Layers = new LayerWeights[c.NumLayers];
            for (int l = 0; l < Layers.Length; l++)
            {
                WeightTensor T(string suffix) => Get(WeightNames.Layer(l, suffix));
                Layers[l] = new LayerWeights(
                    up.Upload(T(WeightNames.AttnNorm)),
                    NewLinear(up, $"layer {l} qkv", c.AttentionBias ? [T(WeightNames.QBias), T(WeightNames.KBias), T(WeightNames.VBias)] : null,
                        T(WeightNames.QProj), T(WeightNames.KProj), T(WeightNames.VProj)),
                    c.QkNorm ? up.Upload(T(WeightNames.QNorm)) : null,
                    c.QkNorm ? up.Upload(T(WeightNames.KNorm)) : null,
                    NewLinear(up, $"layer {l} o", null, T(WeightNames.OProj)),
                    up.Upload(T(WeightNames.FfnNorm)),
                    NewLinear(up, $"layer {l} gate_up", null, T(WeightNames.Gate), T(WeightNames.Up)),
                    NewLinear(up, $"layer {l} down", null, T(WeightNames.Down)));
            }

            LmHead = new LinearWeight("lm_head", Classifier, classifierDType, null, c.VocabSize, c.Dim,
                [c.SharedClassifier ? WeightNames.Embedding : WeightNames.Classifier]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fuses <paramref name="parts"/> (each [rows, K]) into one linear layer, with the matching biases if any: used in
    /// place from the mapped file where the backend allows it (the CPU: no second copy of the weights), else uploaded.
    /// </summary>
    private LinearWeight NewLinear(WeightUploader up, string name, WeightTensor[]? biases, params WeightTensor[] parts)
    {
        var bias = biases is null ? null : up.Upload(biases);
        int n = (int)parts.Sum(p => p.Shape[0]), k = (int)parts[0].Shape[1];
        string[] names = [.. parts.Select(p => p.Name)];
        bool keep = DeviceWeightDTypes.KeepsLinear(_backend, parts[0].DType);
        if (keep && up.TryUseInPlace(parts) is { } blocks)
        {
            var rowBlocks = blocks.Count == 1 ? null : blocks.Select((b, i) => (b, (int)parts[i].Shape[0])).ToList();
            return new(name, blocks[0], ToDType(parts[0].DType), bias, n, k, names, rowBlocks);
        }

        var (w, dtype) = up.UploadWeights(keep, parts);
        return new(name, w, ToDType(dtype), bias, n, k, names);
    }

    /// <summary>An embedding or classifier table: in place on the CPU (which reads f32, f16 and bf16 tables), else fp32.</summary>
    private (DeviceBuffer Buffer, DType DType) Table(WeightUploader up, WeightTensor table)
    {
        if (!DeviceWeightDTypes.KeepsTable(_backend))
            return (up.Upload(table), DType.F32);
        if (up.TryUseInPlace(table) is { } inPlace)
            return (inPlace[0], ToDType(table.DType));
        var (buffer, dtype) = up.UploadWeights(true, table);
        return (buffer, ToDType(dtype));
    }

    /// <summary>An untied classifier: a table on the CPU (in place), else a linear layer's weight (half kept where read).</summary>
    private (DeviceBuffer Buffer, DType DType) UntiedClassifier(WeightUploader up, WeightTensor table)
    {
        if (DeviceWeightDTypes.KeepsTable(_backend))
            return Table(up, table);
        var (buffer, dtype) = up.UploadWeights(DeviceWeightDTypes.KeepsLinear(_backend, table.DType), table);
        return (buffer, ToDType(dtype));
    }

    private static DType ToDType(WeightDType dtype) =>
        dtype switch { WeightDType.BF16 => DType.BF16, WeightDType.F16 => DType.F16, WeightDType.Q8_0 => DType.Q8_0, _ => DType.F32 };

    /// <summary>The dtype of <see cref="TokenEmbedding"/> (and of the classifier when it is shared).</summary>
    public DType TokenEmbeddingDType { get; }

    public DeviceBuffer TokenEmbedding { get; } = null!;

    public DeviceBuffer FinalNorm { get; } = null!;

    public DeviceBuffer Classifier { get; } = null!;

    public LinearWeight LmHead { get; } = null!;

    /// <summary>The RoPE frequency table (Hugging Face models), or null for the op's theta default (llama2.c, GGUF llama).</summary>
    public DeviceBuffer? RopeInvFreq { get; }

    public LayerWeights[] Layers { get; } = [];

    /// <summary>Bytes of device memory the weights occupy (buffers used in place from a mapped file not counted).</summary>
    public long DeviceBytes => _owned.Where(b => !b.IsWrappedHostMemory).Sum(b => b.Bytes);

    public void Dispose()
    {
        foreach (var b in _owned)
            b.Dispose();
        _owned.Clear();
    }

    internal sealed record LayerWeights(
        DeviceBuffer AttnNorm, LinearWeight Qkv, DeviceBuffer? QNorm, DeviceBuffer? KNorm, LinearWeight O,
        DeviceBuffer FfnNorm, LinearWeight GateUp, LinearWeight Down);
}
