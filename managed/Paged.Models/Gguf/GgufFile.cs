using System.Globalization;

namespace Paged.Models.Gguf;

/// <summary>
/// A parsed GGUF (v2 or v3) file: metadata and tensor directory. Tensor data is read on demand with
/// <see cref="ReadTensor(GgufTensorInfo)"/>. Metadata values are boxed CLR values (uint, int, float, string, bool, ...);
/// arrays are typed CLR arrays (string[], float[], int[], ...).
/// </summary>
public sealed class GgufFile
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;

    private readonly Dictionary<string, GgufTensorInfo> _byName;

    private GgufFile(string path, int version, int alignment, long dataOffset, long fileLength,
        Dictionary<string, object> metadata, List<GgufTensorInfo> tensors)
    {
        Path = path;
        Version = version;
        Alignment = alignment;
        DataOffset = dataOffset;
        FileLength = fileLength;
        Metadata = metadata;
        Tensors = tensors;
        _byName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!_byName.TryAdd(t.Name, t))
            {
                throw ModelFormatException.For(path, $"tensor {t.Name} appears twice");
            }
        }
    }

    public string Path { get; }
    public int Version { get; }
    public int Alignment { get; }
    /// <summary>Absolute file offset of the data section; tensor offsets are relative to it.</summary>
    public long DataOffset { get; }
    public long FileLength { get; }
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Parses the header, metadata and tensor directory and checks that all data lies inside the file.</summary>
    public static GgufFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        Llama2cCheckpoint.EnsureLittleEndian();
        if (!File.Exists(path))
        {
            throw ModelFormatException.For(path, "file not found");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new GgufMetadataReader(path, stream);
        if (stream.Length < 4 || reader.ReadU32() != Magic)
        {
            throw reader.Fail("not a GGUF file (bad magic; expected \"GGUF\")");
        }

        uint version = reader.ReadU32();
        if (version is not (2 or 3))
        {
            throw reader.Fail($"unsupported GGUF version {version}; only versions 2 and 3 are supported");
        }

        long tensorCount = reader.ReadCount("tensor count", 24);
        long kvCount = reader.ReadCount("metadata key/value count", 13);
        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        for (long i = 0; i < kvCount; i++)
        {
            string key = reader.ReadString();
            var value = reader.ReadValue(reader.ReadValueType());
            if (!metadata.TryAdd(key, value))
            {
                throw reader.Fail($"metadata key {key} appears twice");
            }
        }

        int alignment = ReadAlignment(reader, metadata);
        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        for (long i = 0; i < tensorCount; i++)
        {
            tensors.Add(ReadTensorInfo(reader, alignment));
        }

        long dataOffset = (reader.Position + alignment - 1) / alignment * alignment;
        var file = new GgufFile(path, (int)version, alignment, dataOffset, stream.Length, metadata, tensors);
        foreach (var t in tensors)
        {
            file.CheckInside(t);
        }

        file.CheckNoOverlap();
        return file;
    }

    public GgufTensorInfo? FindTensor(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Reads one tensor and converts it to fp32 (F32, F16, BF16 and Q8_0 are supported).</summary>
    public float[] ReadTensor(GgufTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        CheckSupported(tensor); // before allocating: an unsupported tensor's size was never checked against the file
        var result = new float[tensor.ElementCount];
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        ReadTensor(stream, tensor, result);
        return result;
    }

    internal void ReadTensor(Stream stream, GgufTensorInfo tensor, Span<float> destination)
    {
        CheckSupported(tensor);

        long bytes = tensor.ByteSize!.Value;
        stream.Seek(DataOffset + tensor.Offset, SeekOrigin.Begin);
        // Rows are converted in chunks so that huge tensors never need a second full-size buffer.
        long rowElements = tensor.Shape[0];
        long rowBytes = bytes / (tensor.ElementCount / rowElements);
        int rowsPerChunk = (int)Math.Max(1, (16L << 20) / Math.Max(1, rowBytes));
        var buffer = new byte[Math.Min(bytes, rowsPerChunk * rowBytes)];
        long done = 0;
        while (done < tensor.ElementCount)
        {
            long elements = Math.Min(tensor.ElementCount - done, rowsPerChunk * rowElements);
            int chunkBytes = (int)(elements / rowElements * rowBytes);
            stream.ReadExactly(buffer, 0, chunkBytes);
            GgufDequantizer.Dequantize(tensor.Type, buffer.AsSpan(0, chunkBytes), destination.Slice((int)done, (int)elements));
            done += elements;
        }
    }

    /// <summary>Throws unless this reader can convert the tensor's type (only then is its size known and checked against the file).</summary>
    internal void CheckSupported(GgufTensorInfo tensor)
    {
        if (!GgufDequantizer.IsSupported(tensor.Type))
        {
            throw ModelFormatException.For(Path, string.Create(CultureInfo.InvariantCulture,
                $"tensor {tensor.Name} has type {tensor.Type} ({(int)tensor.Type}), which is not supported (supported: F32, F16, BF16, Q8_0)"));
        }
    }

    /// <summary>Tensors of known size may not share bytes: otherwise a small file could expand into many full-size copies.</summary>
    private void CheckNoOverlap()
    {
        var sized = Tensors.Where(t => t.ByteSize is not null).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sized.Count; i++)
        {
            GgufTensorInfo a = sized[i - 1], b = sized[i];
            if (a.Offset + a.ByteSize!.Value > b.Offset)
            {
                throw ModelFormatException.For(Path, string.Create(CultureInfo.InvariantCulture,
                    $"tensor {b.Name} data (offset {b.Offset}, {b.ByteSize} bytes) overlaps tensor {a.Name} (offset {a.Offset}, {a.ByteSize} bytes)"));
            }
        }
    }

    private void CheckInside(GgufTensorInfo t)
    {
        if (t.Type == GgufTensorType.Q8_0 && t.Shape[0] % GgufDequantizer.Q8BlockSize != 0)
        {
            throw ModelFormatException.For(Path, $"tensor {t.Name} is Q8_0 but its row length {t.Shape[0]} is not a multiple of 32");
        }

        long dataBytes = FileLength - DataOffset;
        long? size = t.ByteSize;
        if (size is { } n && (t.Offset > dataBytes || n > dataBytes - t.Offset))
        {
            throw ModelFormatException.For(Path, string.Create(CultureInfo.InvariantCulture,
                $"tensor {t.Name} data (offset {t.Offset}, {n} bytes) extends past the end of the {Math.Max(0, dataBytes)}-byte data section; the file is truncated"));
        }
    }

    private static int ReadAlignment(GgufMetadataReader reader, Dictionary<string, object> metadata)
    {
        if (!metadata.TryGetValue("general.alignment", out var value))
        {
            return DefaultAlignment;
        }

        long a = GgufMetadata.ToInt64(value) ?? 0;
        if (a <= 0 || a > 1 << 20 || (a & (a - 1)) != 0)
        {
            throw reader.Fail($"general.alignment {value} is not a power of two");
        }

        return (int)a;
    }

    private static GgufTensorInfo ReadTensorInfo(GgufMetadataReader reader, int alignment)
    {
        string name = reader.ReadString();
        uint nDims = reader.ReadU32();
        if (nDims is 0 or > 4)
        {
            throw reader.Fail($"tensor {name} has {nDims} dimensions; GGUF allows 1 to 4");
        }

        var shape = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++)
        {
            ulong ne = reader.ReadU64();
            if (ne == 0 || ne > int.MaxValue || (elements *= (long)ne) > int.MaxValue)
            {
                throw reader.Fail($"tensor {name} has an unusable dimension {ne} (or more than {int.MaxValue} elements)");
            }

            shape[d] = (long)ne;
        }

        var type = (GgufTensorType)reader.ReadU32();
        ulong offset = reader.ReadU64();
        if (offset % (ulong)alignment != 0 || offset > long.MaxValue)
        {
            throw reader.Fail($"tensor {name} offset {offset} is not a multiple of the alignment {alignment}");
        }

        return new GgufTensorInfo(name, shape, type, (long)offset);
    }
}
