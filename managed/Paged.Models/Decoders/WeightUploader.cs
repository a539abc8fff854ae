using System.Globalization;
using Paged.Models.Weights;
using Paged.Runtime;

namespace Paged.Models.Decoders;

/// <summary>
/// Uploads weight tensors to device buffers, widening to fp32 through one host chunk (a mapped tensor is read once,
/// never copied whole on the host) and refusing NaN or infinite values by tensor name.
/// </summary>
internal sealed class WeightUploader(DeviceContext context, string sourcePath)
{
    private const int ChunkFloats = 1 << 20;
    private readonly float[] _chunk = new float[ChunkFloats];

    /// <summary>Every buffer uploaded so far; the owner disposes them.</summary>
    public List<DeviceBuffer> Owned { get; } = [];

    /// <summary>One device buffer holding the tensors one after another (row blocks of a fused matrix).</summary>
    public DeviceBuffer Upload(params WeightTensor[] parts)
    {
        var buffer = context.Allocate<float>(Math.Max(1, parts.Sum(p => p.ElementCount)));
        Owned.Add(buffer);
        long offset = 0;
        foreach (var part in parts)
        {
            for (long done = 0; done < part.ElementCount;)
            {
                int n = (int)Math.Min(ChunkFloats, part.ElementCount - done);
                var chunk = _chunk.AsSpan(0, n);
                part.ReadF32(done, chunk);
                long bad = FloatChecks.IndexOfNonFinite(chunk);
                if (bad >= 0)
                {
                    throw ModelFormatException.For(sourcePath, string.Create(CultureInfo.InvariantCulture,
                        $"tensor {part.Name} has a non-finite value ({chunk[(int)bad]}) at element {done + bad}"));
                }

                buffer.CopyFrom<float>(chunk, offset + done);
                done += n;
            }

            offset += part.ElementCount;
        }

        return buffer;
    }

    /// <summary>Uploads a host fp32 array (a table the model computed).</summary>
    public DeviceBuffer Upload(float[] data)
    {
        var buffer = context.Upload<float>(data);
        Owned.Add(buffer);
        return buffer;
    }
}
