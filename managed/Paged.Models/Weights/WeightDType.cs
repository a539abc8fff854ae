namespace Paged.Models.Weights;

/// <summary>Element type of a stored weight tensor.</summary>
public enum WeightDType
{
    F32,
    F16,
    BF16,

    /// <summary>GGUF q8_0: blocks of 32 weights, each an f16 scale d and 32 int8 q (w = d * q; 34 bytes); rows are whole blocks.</summary>
    Q8_0,
}

/// <summary>Sizes and names of <see cref="WeightDType"/>.</summary>
public static class WeightDTypes
{
    public const int Q8BlockSize = 32;
    public const int Q8BlockBytes = 2 + Q8BlockSize;

    /// <summary>Bytes per element of an element type (not q8_0, whose elements come in blocks: see <see cref="Bytes"/>).</summary>
    public static int Size(WeightDType type) => type switch
    {
        WeightDType.F32 => 4,
        WeightDType.F16 or WeightDType.BF16 => 2,
        _ => throw new ArgumentException($"{type} has no per-element size (blocks of {Q8BlockSize})", nameof(type)),
    };

    /// <summary>Bytes of <paramref name="elements"/> stored elements (q8_0: a whole number of blocks).</summary>
    public static long Bytes(WeightDType type, long elements) =>
        type == WeightDType.Q8_0 ? elements / Q8BlockSize * Q8BlockBytes : elements * Size(type);

    /// <summary>The alignment in place use needs (the q8_0 scale is read as a 16-bit value).</summary>
    public static int Alignment(WeightDType type) => type == WeightDType.Q8_0 ? 2 : Size(type);
}
