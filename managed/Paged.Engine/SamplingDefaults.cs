using Paged.Models;

namespace Paged.Engine;

/// <summary>
/// A model's sampling defaults (generation_config.json) as <see cref="SamplingParams"/>: front ends start from these and
/// override only what the request sets, as vLLM applies a checkpoint's generation config.
/// </summary>
public static class SamplingDefaults
{
    public static SamplingParams For(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var g = config.Generation;
        var p = new SamplingParams();
        return p with
        {
            Temperature = g.Temperature ?? p.Temperature,
            TopP = g.TopP ?? p.TopP,
            TopK = g.TopK ?? p.TopK,
            MinP = g.MinP ?? p.MinP,
            RepetitionPenalty = g.RepetitionPenalty ?? p.RepetitionPenalty,
        };
    }
}
