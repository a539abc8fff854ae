namespace Paged.Engine;

/// <summary>Whether decode steps run through captured graphs (--cuda-graphs; vLLM's CUDA graphs, off = its --enforce-eager).</summary>
public enum CudaGraphMode
{
    /// <summary>The default: on for the cuda backend, off elsewhere (simt: on request, so CI exercises the path).</summary>
    Auto,

    /// <summary>Capture decode steps where the backend can (cuda, simt); the cpu backend has no graphs and runs eagerly.</summary>
    On,

    /// <summary>Every step runs op by op (vLLM's enforce_eager).</summary>
    Off,
}

/// <summary>The one place for the default of <see cref="CudaGraphMode"/> and the batch sizes graphs are captured for.</summary>
public static class CudaGraphModes
{
    /// <summary>Whether graphs are used on the backend named <paramref name="backend"/>.</summary>
    public static bool Enabled(CudaGraphMode mode, string backend) => mode switch
    {
        CudaGraphMode.Auto => backend == "cuda",
        CudaGraphMode.On => true,
        CudaGraphMode.Off => false,
        _ => throw new ArgumentException($"unknown CUDA graph mode {(int)mode} (auto, on, off)"),
    };

    /// <summary>
    /// vLLM's default capture sizes: 1, 2, 4, 8, then every multiple of 8 up to <paramref name="maxNumSeqs"/>, which is
    /// always the last (so every decode batch has a bucket). A batch runs in the smallest size that holds it.
    /// </summary>
    public static IReadOnlyList<int> CaptureSizes(int maxNumSeqs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxNumSeqs);
        var sizes = new List<int>();
        for (int s = 1; s < maxNumSeqs; s = s < 8 ? s * 2 : s + 8)
            sizes.Add(s);
        sizes.Add(maxNumSeqs);
        return sizes;
    }
}
