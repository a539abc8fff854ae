using Paged.Models.Weights;

namespace Paged.Engine;

/// <summary>Weight updates and prefix-cache resets, run on the engine's thread between steps.</summary>
public sealed partial class AsyncEngine
{
    /// <summary>The engine's current weight version (<see cref="LlmEngine.WeightVersion"/>).</summary>
    public int WeightVersion => _engine.WeightVersion;

    /// <summary>Replaces the weights from a safetensors file between two steps; returns the new version (see <see cref="LlmEngine.UpdateWeights(string)"/>).</summary>
    public Task<int> UpdateWeightsAsync(string safetensorsPath, CancellationToken cancellationToken = default) =>
        InvokeAsync(e => e.UpdateWeights(safetensorsPath), cancellationToken);

    /// <summary>Replaces the weights with named tensors between two steps; returns the new version.</summary>
    public Task<int> UpdateWeightsAsync(IReadOnlyList<WeightTensor> tensors, CancellationToken cancellationToken = default) =>
        InvokeAsync(e => e.UpdateWeights(tensors), cancellationToken);

    /// <summary>Drops every prefix-cache entry between two steps.</summary>
    public Task ResetPrefixCacheAsync(CancellationToken cancellationToken = default) =>
        InvokeAsync(e =>
        {
            e.ResetPrefixCache();
            return 0;
        }, cancellationToken);
}
