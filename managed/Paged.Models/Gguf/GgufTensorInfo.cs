namespace Paged.Models.Gguf;

/// <summary>
/// One tensor's directory entry. <see cref="Shape"/> is in GGUF order, innermost first: a row-major [out, in]
/// matrix has Shape[0] = in, Shape[1] = out.
/// </summary>
public sealed record GgufTensorInfo(string Name, IReadOnlyList<long> Shape, GgufTensorType Type, long Offset)
{
    /// <summary>Product of the dimensions.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape)
            {
                n *= d;
            }

            return n;
        }
    }

    /// <summary>Bytes of data, or null for types this reader does not know the layout of.</summary>
    public long? ByteSize => Type switch
    {
        GgufTensorType.F32 => ElementCount * 4,
        GgufTensorType.F16 or GgufTensorType.BF16 => ElementCount * 2,
        GgufTensorType.Q8_0 => ElementCount / GgufDequantizer.Q8BlockSize * GgufDequantizer.Q8BlockBytes,
        _ => null,
    };

    /// <summary>Shape formatted as "[ne0, ne1]".</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
