using Paged.Models.Weights;

namespace Paged.Models.Decoders;

/// <summary>
/// Which stored weight dtypes each backend keeps on the device as they are (the one place for this default; fp32
/// activations throughout). The CPU reads f32, f16, bf16 and q8_0 weights and tables in place; the cuda and simt
/// matmul read f16/bf16 weights with f32 x and out, and their embedding widens an f16/bf16 table into f32 rows, so a
/// half checkpoint's projections, embedding table and classifier (tied or not) stay half there: half the device
/// memory and bytes per decode step of fp32. q8_0 is widened to fp32 on cuda/simt.
/// </summary>
internal static class DeviceWeightDTypes
{
    /// <summary>Whether a weight (linear layer or table) stored as <paramref name="dtype"/> stays so on <paramref name="backend"/>.</summary>
    public static bool Keeps(string backend, WeightDType dtype) =>
        backend == "cpu" || dtype is WeightDType.F16 or WeightDType.BF16;
}
