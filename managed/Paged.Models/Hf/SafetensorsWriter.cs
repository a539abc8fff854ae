using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Paged.Models.Weights;

namespace Paged.Models.Hf;

/// <summary>
/// Writes a .safetensors file: tensors given as fp32 producers, stored as F32, F16 or BF16 (round to nearest even),
/// streamed in chunks so that multi-gigabyte models never sit in memory; the header is padded to 8 bytes as the
/// reference writer does.
/// </summary>
public sealed class SafetensorsWriter
{
    private const int ChunkFloats = 1 << 16;
    private readonly List<(string Name, WeightDType DType, long[] Shape, Action<long, Span<float>> Fill)> _tensors = [];

    /// <summary>Adds a tensor whose elements [start, start + chunk.Length) <paramref name="fill"/> writes into chunk.</summary>
    public SafetensorsWriter Add(string name, WeightDType dtype, long[] shape, Action<long, Span<float>> fill)
    {
        _tensors.Add((name, dtype, shape, fill));
        return this;
    }

    /// <summary>Adds a tensor held in an fp32 array.</summary>
    public SafetensorsWriter Add(string name, WeightDType dtype, float[] data, params long[] shape) =>
        Add(name, dtype, shape, (start, chunk) => data.AsSpan((int)start, chunk.Length).CopyTo(chunk));

    public void Save(string path)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Write(stream);
    }

    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] header = Header();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        var floats = new float[ChunkFloats];
        var bytes = new byte[ChunkFloats * 4];
        foreach (var (_, dtype, shape, fill) in _tensors)
        {
            long count = shape.Aggregate(1L, (a, b) => a * b);
            for (long done = 0; done < count;)
            {
                int n = (int)Math.Min(ChunkFloats, count - done);
                fill(done, floats.AsSpan(0, n));
                stream.Write(bytes, 0, WeightEncoder.Encode(dtype, floats.AsSpan(0, n), bytes));
                done += n;
            }
        }
    }

    private byte[] Header()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, dtype, shape, _) in _tensors)
            {
                long bytes = shape.Aggregate(1L, (a, b) => a * b) * WeightDTypes.Size(dtype);
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype.ToString().ToUpperInvariant());
                json.WriteStartArray("shape");
                foreach (long d in shape)
                    json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }

            json.WriteEndObject();
        }

        int padding = (int)((8 - (buffer.Length % 8)) % 8);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        return buffer.ToArray();
    }
}
