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

    /// <summary>
    /// One device buffer holding the tensors one after another in their stored half-precision dtype, when
    /// <paramref name="keepHalf"/> and they all share one (the CPU GEMM reads f16/bf16 weights in place: half the
    /// memory and bytes per decode step); otherwise widened to fp32 as <see cref="Upload(WeightTensor[])"/>.
    /// </summary>
    public (DeviceBuffer Buffer, WeightDType DType) UploadWeights(bool keepHalf, params WeightTensor[] parts)
    {
        var dtype = parts[0].DType;
        if (!keepHalf || dtype == WeightDType.F32 || parts.Any(p => p.DType != dtype))
            return (Upload(parts), WeightDType.F32);
        var buffer = context.Allocate(Math.Max(1, parts.Sum(p => p.ByteCount)));
        Owned.Add(buffer);
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(_chunk.AsSpan());
        long offset = 0;
        foreach (var part in parts)
        {
            for (long done = 0; done < part.ByteCount;)
            {
                int n = (int)Math.Min(bytes.Length, part.ByteCount - done);
                part.ReadBytes(done, bytes[..n]);
                buffer.CopyFrom<byte>(bytes[..n], offset + done);
                done += n;
            }

            offset += part.ByteCount;
        }

        return (buffer, dtype);
    }

    /// <summary>Uploads a host fp32 array (a table the model computed).</summary>
    public DeviceBuffer Upload(float[] data)
    {
        var buffer = context.Upload<float>(data);
        Owned.Add(buffer);
        return buffer;
    }
}
