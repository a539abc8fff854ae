using Paged.Runtime;
using Paged.Runtime.Interop;

namespace Paged.Models.Decoders;

/// <summary>
/// A linear layer on the device: out[M, N] = x[M, K] W^T (+ bias). <see cref="Parts"/> names the checkpoint tensors
/// fused into W, in row order (e.g. q_proj, k_proj, v_proj), which is what LoRA adapters attach to. W is fp32, or
/// f16/bf16 where the backend reads half weights in place (<see cref="WDType"/>); the bias is fp32.
/// </summary>
internal sealed record LinearWeight(string Name, DeviceBuffer W, DType WDType, DeviceBuffer? Bias, int N, int K, IReadOnlyList<string> Parts);
