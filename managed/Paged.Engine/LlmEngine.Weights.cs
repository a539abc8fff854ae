using Paged.Models;
using Paged.Models.Hf;
using Paged.Models.Weights;

namespace Paged.Engine;

/// <summary>
/// Weight updates in place (the RL rollout loop: a trainer pushes new weights between generations). The model's
/// weights are replaced between steps without restarting. An update names any subset of the model's tensors (Hugging
/// Face names, the model's shapes, f32/f16/bf16): the others keep their values. An unknown name, a wrong shape or
/// dtype, or a non-finite value is an error naming the tensor, and then nothing changes (all or nothing). Each update increments
/// <see cref="WeightVersion"/>, which every request records when it is added (<see cref="RequestOutput.WeightVersion"/>)
/// and which is part of its prefix-cache keys, so a prefix computed under older weights is never reused; the cache's
/// entries are also dropped.
/// </summary>
public sealed partial class LlmEngine
{
    private int _weightVersion;

    /// <summary>0 for the weights the engine was built with, incremented by each weight update.</summary>
    public int WeightVersion => Volatile.Read(ref _weightVersion);

    /// <summary>Replaces the tensors a safetensors file holds (Hugging Face names; any subset) and returns the new version.</summary>
    public int UpdateWeights(string safetensorsPath)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(safetensorsPath);
        if (!File.Exists(safetensorsPath))
            throw new FileNotFoundException($"weights file {safetensorsPath} not found", safetensorsPath);
        var file = SafetensorsFile.Open(safetensorsPath);
        ModelWeights weights;
        try
        {
            weights = new ModelWeights(Config, safetensorsPath, file.Tensors, [file]);
        }
        catch
        {
            file.Dispose();
            throw;
        }

        using (weights)
            return UpdateWeights(weights);
    }

    /// <summary>Replaces the named tensors held in memory (Hugging Face names; any subset) and returns the new version.</summary>
    public int UpdateWeights(IEnumerable<WeightTensor> tensors)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(tensors);
        using var weights = new ModelWeights(Config, "(tensors in memory)", tensors);
        return UpdateWeights(weights);
    }

    /// <summary>Replaces the tensors of <paramref name="weights"/> (the engine's config; any subset) and returns the new version.</summary>
    public int UpdateWeights(ModelWeights weights)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(weights);
        using var _ = _guard.Enter(nameof(UpdateWeights));
        weights.CheckFinite();
        _core.Executor.ReplaceWeights(weights);
        Interlocked.Increment(ref _weightVersion);
        _core.Scheduler.Kv.PrefixCache?.Clear();
        return WeightVersion;
    }

    /// <summary>Drops every prefix-cache entry (blocks in use keep their contents; they are just not shared any more).</summary>
    public void ResetPrefixCache()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var _ = _guard.Enter(nameof(ResetPrefixCache));
        _core.Scheduler.Kv.PrefixCache?.Clear();
    }
}
