using System.Globalization;
using Paged.Models.Weights;
using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Decoders;

/// <summary>
/// Partial weight updates: new weights from a subset of the named tensors over the current ones. A tensor the update
/// leaves alone keeps its device buffer (no copy, in place from the mapped file where it was); a projection fused with
/// an updated one (q with k and v, gate with up) is read back from the device, widened to fp32, and uploaded again
/// with the new part, as a checkpoint mixing dtypes in one fused projection would load. Every name, shape and value
/// is checked before anything changes: the update is all or nothing.
/// </summary>
internal sealed partial class DecoderWeights
{
    /// <summary>
    /// The weights with <paramref name="update"/>'s tensors replaced (any subset, each with its model shape; an unknown
    /// name is an error). The caller swaps the result in and disposes this object, which then frees only what was
    /// replaced.
    /// </summary>
    public DecoderWeights WithUpdate(DeviceContext ctx, ModelWeights update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var shapes = DecoderTensors.Expected(update.Config);
        if (update.AllTensors.Count == 0)
            throw ModelFormatException.For(update.SourcePath, "the update names no tensor");
        foreach (var t in update.AllTensors)
        {
            if (!shapes.TryGetValue(t.Name, out var shape))
                throw ModelFormatException.For(update.SourcePath, $"tensor {t.Name} is not a weight of this model ({update.Config.Architecture}); nothing was updated");
            update.Require(t.Name, shape);
            if (t.DType is not (WeightDType.F32 or WeightDType.F16 or WeightDType.BF16))
                throw ModelFormatException.For(update.SourcePath, $"tensor {t.Name} is {t.DType}: an update takes f32, f16 or bf16 tensors; nothing was updated");
        }

        return new DecoderWeights(ctx, update, this);
    }

    private static T Keep<T>(List<DeviceBuffer> kept, T piece)
    {
        switch (piece)
        {
            case DeviceBuffer b:
                kept.Add(b);
                break;
            case LinearWeight w:
                KeepMatrix(kept, w);
                if (w.Bias is not null)
                    kept.Add(w.Bias);
                break;
        }

        return piece;
    }

    private static void KeepMatrix(List<DeviceBuffer> kept, LinearWeight w)
    {
        kept.Add(w.W);
        if (w.RowBlocks is not null)
            kept.AddRange(w.RowBlocks.Select(r => r.W));
    }

    /// <summary>
    /// A fused projection under an update: kept whole when the update names none of its tensors; its matrix kept and
    /// a new fused bias when only biases are named; else rebuilt from the named parts and the others read back.
    /// </summary>
    private LinearWeight Updated(WeightUploader up, List<DeviceBuffer> kept, ModelWeights update, IReadOnlyDictionary<string, long[]> shapes,
        string name, LinearWeight old, string[]? biases, string[] parts)
    {
        bool matrixNamed = parts.Any(p => update.Find(p) is not null);
        bool biasNamed = biases is not null && biases.Any(p => update.Find(p) is not null);
        if (!matrixNamed && !biasNamed)
            return Keep(kept, old);
        if (!matrixNamed)
        {
            KeepMatrix(kept, old);
            return old with { Bias = up.Upload(BiasParts(update, shapes, old, biases!)) };
        }

        return NewLinear(up, name, biases is null ? null : BiasParts(update, shapes, old, biases), FusedParts(update, shapes, old, parts));
    }

    /// <summary>
    /// The fused projection's parts <paramref name="names"/> (in row order): the update's tensor where it gives one,
    /// else the part as it is on the device (<paramref name="old"/>), widened to fp32.
    /// </summary>
    private static WeightTensor[] FusedParts(ModelWeights update, IReadOnlyDictionary<string, long[]> shapes, LinearWeight old, string[] names)
    {
        var parts = new WeightTensor[names.Length];
        long firstRow = 0;
        for (int i = 0; i < names.Length; i++)
        {
            var shape = shapes[names[i]];
            parts[i] = update.Optional(names[i], shape) ?? Readback(old, i, firstRow, names[i], shape);
            firstRow += shape[0];
        }

        return parts;
    }

    /// <summary>Part <paramref name="part"/> of a fused projection (from row <paramref name="firstRow"/>) as it is on the device, widened to fp32.</summary>
    private static WeightTensor Readback(LinearWeight w, int part, long firstRow, string name, long[] shape)
    {
        long rows = shape[0], width = shape[1];
        var (buffer, offset) = w.RowBlocks is null ? (w.W, firstRow * width) : (w.RowBlocks[part].W, 0L);
        var values = new float[rows * width];
        switch (w.WDType)
        {
            case DType.F32:
                buffer.CopyTo<float>(values, offset);
                break;
            case DType.BF16:
                var bits = new ushort[values.Length];
                buffer.CopyTo<ushort>(bits, offset);
                Bf16.Widen(bits, values);
                break;
            case DType.F16:
                var halves = new Half[values.Length];
                buffer.CopyTo<Half>(halves, offset);
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)halves[i];
                break;
            default:
                throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                    $"{name} is fused in {w.Name}, held as {w.WDType}: update all of {string.Join(", ", w.Parts)} together"));
        }

        return new WeightTensor(name, values, shape);
    }

    /// <summary>The fused bias of q, k, v: the given parts, the others read back from the current fused bias.</summary>
    private static WeightTensor[] BiasParts(ModelWeights weights, IReadOnlyDictionary<string, long[]> shapes, LinearWeight? old, string[] names)
    {
        var parts = new WeightTensor[names.Length];
        long offset = 0;
        for (int i = 0; i < names.Length; i++)
        {
            var shape = shapes[names[i]];
            if (weights.Optional(names[i], shape) is not null || old?.Bias is null)
            {
                parts[i] = weights.Require(names[i], shape);
            }
            else
            {
                var values = new float[shape[0]];
                old.Bias.CopyTo<float>(values, offset);
                parts[i] = new WeightTensor(names[i], values, shape);
            }

            offset += shape[0];
        }

        return parts;
    }
}
