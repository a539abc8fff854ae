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
/// Built from a full set of tensors, or from a subset over the current weights (a partial update,
/// DecoderWeights.Partial.cs).
/// </summary>
internal sealed partial class DecoderWeights : IDisposable
{
    private readonly List<DeviceBuffer> _owned;

    /// <summary>The backend's name: which stored dtypes stay as they are (<see cref="DeviceWeightDTypes"/>).</summary>
    private readonly string _backend;

    public DecoderWeights(DeviceContext ctx, ModelWeights weights)
        : this(ctx, weights, null)
    {
    }

    /// <summary>
    /// With <paramref name="current"/>: <paramref name="weights"/> may name any subset of the tensors; the others keep
    /// their values (their device buffers move to the new object once it is complete; <see cref="Dispose"/> of the old
    /// one then frees only what was replaced).
    /// </summary>
    private DecoderWeights(DeviceContext ctx, ModelWeights weights, DecoderWeights? current)
    {
        var c = weights.Config;
        _backend = ctx.Backend.Name;
        var up = new WeightUploader(ctx, weights.SourcePath);
        _owned = up.Owned;
        var kept = new List<DeviceBuffer>();
        try
        {
            var shapes = DecoderTensors.Expected(c);
            WeightTensor Get(string name) => weights.Require(name, shapes[name]);
            DeviceBuffer Norm(string name, DeviceBuffer? old) =>
                old is not null && weights.Find(name) is null ? Keep(kept, old) : up.Upload(Get(name));
            LinearWeight Linear(string name, LinearWeight? old, string[]? biases, params string[] parts) =>
                old is null ? NewLinear(up, name, biases is null ? null : [.. biases.Select(Get)], [.. parts.Select(Get)])
                    : Updated(up, kept, weights, shapes, name, old, biases, parts);

            (TokenEmbedding, TokenEmbeddingDType) = current is not null && weights.Find(WeightNames.Embedding) is null
                ? (Keep(kept, current.TokenEmbedding), current.TokenEmbeddingDType) : Table(up, Get(WeightNames.Embedding));
            FinalNorm = Norm(WeightNames.FinalNorm, current?.FinalNorm);
            var (classifier, classifierDType) = c.SharedClassifier ? (TokenEmbedding, TokenEmbeddingDType)
                : current is not null && weights.Find(WeightNames.Classifier) is null ? (Keep(kept, current.Classifier), current.LmHead.WDType)
                : Table(up, Get(WeightNames.Classifier));
            Classifier = classifier;
            RopeInvFreq = c.RopeStyle == RopeStyle.RotateHalf ? up.Upload(RopeFrequencies.Compute(c)) : null;
            Layers = new LayerWeights[c.NumLayers];
            for (int l = 0; l < Layers.Length; l++)
            {
                string N(string suffix) => WeightNames.Layer(l, suffix);
                var old = current?.Layers[l];
                Layers[l] = new LayerWeights(
                    Norm(N(WeightNames.AttnNorm), old?.AttnNorm),
                    Linear($"layer {l} qkv", old?.Qkv, c.AttentionBias ? [N(WeightNames.QBias), N(WeightNames.KBias), N(WeightNames.VBias)] : null,
                        N(WeightNames.QProj), N(WeightNames.KProj), N(WeightNames.VProj)),
                    c.QkNorm ? Norm(N(WeightNames.QNorm), old?.QNorm) : null,
                    c.QkNorm ? Norm(N(WeightNames.KNorm), old?.KNorm) : null,
                    Linear($"layer {l} o", old?.O, null, N(WeightNames.OProj)),
                    Norm(N(WeightNames.FfnNorm), old?.FfnNorm),
                    Linear($"layer {l} gate_up", old?.GateUp, null, N(WeightNames.Gate), N(WeightNames.Up)),
                    Linear($"layer {l} down", old?.Down, null, N(WeightNames.Down)));
            }

            LmHead = new LinearWeight("lm_head", Classifier, classifierDType, null, c.VocabSize, c.Dim,
                [c.SharedClassifier ? WeightNames.Embedding : WeightNames.Classifier]);
        }
        catch
        {
            Dispose();
            throw;
        }

        // Complete: the kept buffers change owner (the old object must not free them).
        foreach (var b in kept.Distinct())
        {
            current!._owned.Remove(b);
            _owned.Add(b);
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
        bool keep = DeviceWeightDTypes.Keeps(_backend, parts[0].DType);
        if (keep && up.TryUseInPlace(parts) is { } blocks)
        {
            var rowBlocks = blocks.Count == 1 ? null : blocks.Select((b, i) => (b, (int)parts[i].Shape[0])).ToList();
            return new(name, blocks[0], ToDType(parts[0].DType), bias, n, k, names, rowBlocks);
        }

        var (w, dtype) = up.UploadWeights(keep, parts);
        return new(name, w, ToDType(dtype), bias, n, k, names);
    }

    /// <summary>
    /// An embedding or classifier table in its stored dtype where the backend keeps it (in place from the mapped file on
    /// the CPU), else widened to fp32.
    /// </summary>
    private (DeviceBuffer Buffer, DType DType) Table(WeightUploader up, WeightTensor table)
    {
        if (!DeviceWeightDTypes.Keeps(_backend, table.DType))
            return (up.Upload(table), DType.F32);
        if (up.TryUseInPlace(table) is { } inPlace)
            return (inPlace[0], ToDType(table.DType));
        var (buffer, dtype) = up.UploadWeights(true, table);
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
