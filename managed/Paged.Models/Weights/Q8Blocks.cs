using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Paged.Models.Weights;

/// <summary>GGUF q8_0 blocks to fp32 (<see cref="WeightDType.Q8_0"/>).</summary>
internal static class Q8Blocks
{
    /// <summary>Dequantizes whole blocks: <paramref name="destination"/>.Length / 32 blocks of <paramref name="source"/>.</summary>
    public static void Dequantize(ReadOnlySpan<byte> source, Span<float> destination)
    {
        int blocks = destination.Length / WeightDTypes.Q8BlockSize;
        for (int b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * WeightDTypes.Q8BlockBytes, WeightDTypes.Q8BlockBytes);
            float d = (float)BinaryPrimitives.ReadHalfLittleEndian(block);
            var qs = MemoryMarshal.Cast<byte, sbyte>(block[2..]);
            var dst = destination.Slice(b * WeightDTypes.Q8BlockSize, WeightDTypes.Q8BlockSize);
            for (int j = 0; j < WeightDTypes.Q8BlockSize; j++)
            {
                dst[j] = qs[j] * d;
            }
        }
    }
}
