using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Paged.Models.Weights;

/// <summary>fp32 values to the bytes of a stored dtype (F16 and BF16 round to nearest even), for the model writers.</summary>
internal static class WeightEncoder
{
    /// <summary>Writes <paramref name="source"/> as <paramref name="dtype"/> into <paramref name="destination"/>; returns the byte count.</summary>
    public static int Encode(WeightDType dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        switch (dtype)
        {
            case WeightDType.F32:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                return source.Length * 4;
            case WeightDType.F16:
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination)[..source.Length]);
                return source.Length * 2;
            default:
                var halves = MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < source.Length; i++)
                    halves[i] = Bf16.FromSingle(source[i]);
                return source.Length * 2;
        }
    }
}
