using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Decoders;

/// <summary>
/// A linear layer on the device: out[M, N] = x[M, K] W^T (+ bias). <see cref="Parts"/> names the checkpoint tensors
/// fused into W, in row order (e.g. q_proj, k_proj, v_proj), which is what LoRA adapters attach to. W is fp32, or
/// the stored f16/bf16 (cpu: also q8_0) where the backend reads it (<see cref="WDType"/>, <see cref="DeviceWeightDTypes"/>);
/// the bias is fp32.
/// <see cref="RowBlocks"/>, when set, holds W's rows as separate buffers, in order (weights used in place from a
/// mapped file where the fused tensors are not back to back, as q_proj, k_proj, v_proj in a Hugging Face file);
/// W is then the first of them.
/// </summary>
internal sealed record LinearWeight(string Name, DeviceBuffer W, DType WDType, DeviceBuffer? Bias, int N, int K, IReadOnlyList<string> Parts,
    IReadOnlyList<(DeviceBuffer W, int Rows)>? RowBlocks = null);
