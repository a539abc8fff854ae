using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Paged.Models.Gguf;

/// <summary>Converts GGUF tensor data (F32, F16, BF16, Q8_0) to fp32.</summary>
internal static class GgufDequantizer
{
    public const int Q8BlockSize = Weights.WeightDTypes.Q8BlockSize;
    public const int Q8BlockBytes = Weights.WeightDTypes.Q8BlockBytes;

    public static bool IsSupported(GgufTensorType type) =>
        type is GgufTensorType.F32 or GgufTensorType.F16 or GgufTensorType.BF16 or GgufTensorType.Q8_0;

    /// <summary>Dequantizes <paramref name="source"/> (exactly the tensor's bytes) into <paramref name="destination"/>.</summary>
    public static void Dequantize(GgufTensorType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (type)
        {
            case GgufTensorType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case GgufTensorType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case GgufTensorType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < bf.Length; i++)
                {
                    destination[i] = BitConverter.Int32BitsToSingle(bf[i] << 16);
                }

                break;
            case GgufTensorType.Q8_0:
                Weights.Q8Blocks.Dequantize(source, destination);
                break;
            default:
                throw new NotSupportedException($"tensor type {type} is not supported");
        }
    }
}
