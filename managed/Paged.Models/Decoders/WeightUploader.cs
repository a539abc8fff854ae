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
            ForEachF32Chunk(part, (chunk, done) => buffer.CopyFrom<float>(chunk, offset + done));
            offset += part.ElementCount;
        }

        return buffer;
    }

    /// <summary>
    /// The tensors used in place from their memory-mapped file, when the device reads host memory (the CPU backend)
    /// and they share one stored dtype: one buffer when they lie back to back in the file (as gate_proj and up_proj
    /// do), else one per tensor, in order (row blocks of a fused matrix). Null when they cannot be (a host array, a
    /// mixed or misaligned tensor, another backend): the caller uploads a copy. f32 tensors are checked for
    /// non-finite values as an upload checks them.
    /// </summary>
    public IReadOnlyList<DeviceBuffer>? TryUseInPlace(params WeightTensor[] parts)
    {
        var dtype = parts[0].DType;
        int alignment = WeightDTypes.Alignment(dtype);
        if (!context.DeviceMemoryIsHostMemory || parts.Any(p => p.DType != dtype || p.MappedLocation is not { } at || p.ByteCount == 0
                || at.File.AddressOf(at.Offset) % alignment != 0))
        {
            return null;
        }

        if (dtype == WeightDType.F32)
        {
            foreach (var part in parts)
                ForEachF32Chunk(part, (_, _) => { });
        }

        bool backToBack = parts.Zip(parts.Skip(1)).All(pair => pair.First.MappedLocation!.Value.File == pair.Second.MappedLocation!.Value.File
            && pair.First.MappedLocation!.Value.Offset + pair.First.ByteCount == pair.Second.MappedLocation!.Value.Offset);
        var blocks = backToBack ? [Wrap(parts[0], parts.Sum(p => p.ByteCount))] : parts.Select(p => Wrap(p, p.ByteCount)).ToList();
        return blocks;
    }

    private DeviceBuffer Wrap(WeightTensor first, long bytes)
    {
        var (file, offset) = first.MappedLocation!.Value;
        var lease = file.Lease();
        try
        {
            var buffer = context.WrapHostMemory(file.AddressOf(offset), bytes, lease);
            Owned.Add(buffer);
            return buffer;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Reads <paramref name="part"/> widened to fp32 in chunks, refusing NaN or infinite values by tensor name.</summary>
    private void ForEachF32Chunk(WeightTensor part, Action<ReadOnlySpan<float>, long> use)
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

            use(chunk, done);
            done += n;
        }
    }

    /// <summary>
    /// One device buffer holding the tensors one after another in their stored dtype (f16, bf16 or q8_0), when
    /// <paramref name="keepHalf"/> and they all share one (the backend's matmul reads it: half the memory and bytes
    /// per decode step of fp32, see <see cref="DeviceWeightDTypes"/>); otherwise widened to fp32 as
    /// <see cref="Upload(WeightTensor[])"/>.
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
