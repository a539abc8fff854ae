namespace Paged.Models;

/// <summary>How the RoPE frequencies are rescaled for longer contexts (Hugging Face <c>rope_type</c>).</summary>
public enum RopeScalingType
{
    /// <summary>Plain frequencies theta^(-2i/d) ("default").</summary>
    None,

    /// <summary>Every frequency divided by <see cref="RopeScaling.Factor"/> (position interpolation).</summary>
    Linear,

    /// <summary>Dynamic NTK: the base grows with the context beyond the original length.</summary>
    Dynamic,

    /// <summary>Llama 3.1: low frequencies divided by the factor, high kept, a smooth ramp between.</summary>
    Llama3,
}

/// <summary>RoPE scaling parameters as config.json states them (rope_scaling or rope_parameters).</summary>
public sealed record RopeScaling
{
    public static readonly RopeScaling None = new();

    public RopeScalingType Type { get; init; } = RopeScalingType.None;
    public float Factor { get; init; } = 1f;
    public float LowFreqFactor { get; init; } = 1f;
    public float HighFreqFactor { get; init; } = 4f;

    /// <summary>The context length the model was trained at before scaling (0 = max_position_embeddings).</summary>
    public int OriginalMaxPositions { get; init; }
}
