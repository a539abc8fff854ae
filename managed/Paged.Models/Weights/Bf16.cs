using System.Runtime.Intrinsics;

namespace Paged.Models.Weights;

/// <summary>bfloat16 is the upper half of an fp32: widening is a 16-bit shift.</summary>
internal static class Bf16
{
    public static void Widen(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException("destination is shorter than the source", nameof(destination));
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var dst = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(destination);
            for (; i + Vector256<ushort>.Count <= source.Length; i += Vector256<ushort>.Count)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Create(source.Slice(i, Vector256<ushort>.Count)));
                Vector256.ShiftLeft(lo, 16).CopyTo(dst[i..]);
                Vector256.ShiftLeft(hi, 16).CopyTo(dst[(i + Vector256<uint>.Count)..]);
            }
        }

        for (; i < source.Length; i++)
            destination[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
    }

    /// <summary>Rounds to nearest even (NaN kept a NaN), as PyTorch's float -> bfloat16 conversion does.</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
