using Paged.Models.Weights;

namespace Paged.Models.Decoders;

/// <summary>
/// Which stored weight dtypes each backend keeps on the device as they are (the one place for this default; fp32
/// activations throughout). Linear layers: the CPU GEMM reads f32, f16, bf16 and q8_0 weights in place; the cuda and
/// simt matmul read f16/bf16 weights with f32 x and out (half the device memory and bytes per decode step of fp32),
/// and widen q8_0 to fp32. Embedding tables: the CPU embedding reads every dtype; the cuda embedding takes one dtype
/// for table and output, so cuda/simt keep the table (and a classifier tied to it) in fp32, while an untied
/// classifier is a linear layer and keeps its half type.
/// </summary>
internal static class DeviceWeightDTypes
{
    /// <summary>Whether a linear layer stored as <paramref name="dtype"/> stays so on <paramref name="backend"/>.</summary>
    public static bool KeepsLinear(string backend, WeightDType dtype) =>
        backend == "cpu" || dtype is WeightDType.F16 or WeightDType.BF16;

    /// <summary>Whether an embedding table keeps its stored dtype on <paramref name="backend"/> (else fp32).</summary>
    public static bool KeepsTable(string backend) => backend == "cpu";
}
