using Paged.Runtime;

namespace Paged.Models.Decoders;

/// <summary>
/// A linear layer on the device: out[M, N] = x[M, K] W^T (+ bias). <see cref="Parts"/> names the checkpoint tensors
/// fused into W, in row order (e.g. q_proj, k_proj, v_proj), which is what LoRA adapters attach to.
/// </summary>
internal sealed record LinearWeight(string Name, DeviceBuffer W, DeviceBuffer? Bias, int N, int K, IReadOnlyList<string> Parts);
