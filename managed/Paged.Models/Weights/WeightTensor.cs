using System.Globalization;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace Paged.Models.Weights;

/// <summary>
/// One named weight tensor: shape (row-major, outermost first, as PyTorch writes it), element type and where its
/// bytes are: an fp32 host array (llama2.c, dequantized GGUF) or a range of a memory-mapped file (safetensors).
/// </summary>
public sealed class WeightTensor
{
    private readonly float[]? _host;
    private readonly MappedFile? _file;
    private readonly long _fileOffset;

    /// <summary>A tensor held in an fp32 host array.</summary>
    public WeightTensor(string name, float[] data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        Name = name;
        Shape = shape;
        DType = WeightDType.F32;
        ElementCount = Product(shape);
        if (ElementCount != data.Length)
            throw new ArgumentException($"tensor {name}: shape [{string.Join(", ", shape)}] has {ElementCount} elements but the array {data.Length}");
        _host = data;
    }

    /// <summary>A view of <paramref name="file"/> at <paramref name="offset"/>; the caller has checked the range.</summary>
    public WeightTensor(string name, WeightDType dtype, long[] shape, MappedFile file, long offset)
    {
        ArgumentNullException.ThrowIfNull(file);
        Name = name;
        Shape = shape;
        DType = dtype;
        ElementCount = Product(shape);
        _file = file;
        _fileOffset = offset;
    }

    public string Name { get; }

    public IReadOnlyList<long> Shape { get; }

    public WeightDType DType { get; }

    public long ElementCount { get; }

    public long ByteCount => WeightDTypes.Bytes(DType, ElementCount);

    /// <summary>The fp32 host array behind this tensor, or null when it is a file view.</summary>
    internal float[]? HostArray => _host;

    public string ShapeText => "[" + string.Join(", ", Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>True when the shape is exactly <paramref name="dims"/>.</summary>
    public bool HasShape(ReadOnlySpan<long> dims)
    {
        if (dims.Length != Shape.Count)
            return false;
        for (int i = 0; i < dims.Length; i++)
        {
            if (dims[i] != Shape[i])
                return false;
        }

        return true;
    }

    /// <summary>Widens elements [start, start + destination.Length) to fp32.</summary>
    public void ReadF32(long start, Span<float> destination)
    {
        if (start < 0 || start > ElementCount - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(start), $"elements [{start}, {start + destination.Length}) are outside tensor {Name} ({ElementCount})");
        if (_host is not null)
        {
            _host.AsSpan((int)start, destination.Length).CopyTo(destination);
            return;
        }

        if (DType == WeightDType.Q8_0)
        {
            if (start % WeightDTypes.Q8BlockSize != 0 || destination.Length % WeightDTypes.Q8BlockSize != 0)
                throw new ArgumentOutOfRangeException(nameof(start), $"q8_0 tensor {Name} is read in whole blocks of {WeightDTypes.Q8BlockSize} (asked [{start}, {start + destination.Length}))");
            Q8Blocks.Dequantize(_file!.Span(_fileOffset + WeightDTypes.Bytes(DType, start), (int)WeightDTypes.Bytes(DType, destination.Length)), destination);
            return;
        }

        int size = WeightDTypes.Size(DType);
        var bytes = _file!.Span(_fileOffset + (start * size), destination.Length * size);
        switch (DType)
        {
            case WeightDType.F32:
                bytes.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case WeightDType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), destination);
                break;
            default:
                Bf16.Widen(MemoryMarshal.Cast<byte, ushort>(bytes), destination);
                break;
        }
    }

    /// <summary>The stored bytes [byteStart, byteStart + destination.Length) as they are in the file (no widening).</summary>
    public void ReadBytes(long byteStart, Span<byte> destination)
    {
        if (byteStart < 0 || byteStart > ByteCount - destination.Length)
            throw new ArgumentOutOfRangeException(nameof(byteStart), $"bytes [{byteStart}, {byteStart + destination.Length}) are outside tensor {Name} ({ByteCount})");
        if (_host is not null)
            MemoryMarshal.AsBytes(_host.AsSpan()).Slice((int)byteStart, destination.Length).CopyTo(destination);
        else
            _file!.Span(_fileOffset + byteStart, destination.Length).CopyTo(destination);
    }

    /// <summary>Where the stored bytes are when this tensor is a view of a mapped file (null for a host array).</summary>
    internal (MappedFile File, long Offset)? MappedLocation => _file is null ? null : (_file, _fileOffset);

    /// <summary>The whole tensor as a new fp32 array (tests, small tensors).</summary>
    public float[] ToArray()
    {
        var result = new float[ElementCount];
        ReadF32(0, result);
        return result;
    }

    private static long Product(long[] shape)
    {
        long n = 1;
        foreach (long d in shape)
            n = checked(n * d);
        return n;
    }
}
