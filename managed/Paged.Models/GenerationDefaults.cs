namespace Paged.Models;

/// <summary>
/// Sampling defaults a checkpoint ships (generation_config.json). The engine applies each one unless the request
/// sets that parameter; null means the checkpoint states nothing. <c>do_sample</c> is not honoured: as in vLLM,
/// the stated temperature/top_p/top_k are the defaults whatever it says.
/// </summary>
public sealed record GenerationDefaults
{
    public static readonly GenerationDefaults Empty = new();

    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? RepetitionPenalty { get; init; }
}
