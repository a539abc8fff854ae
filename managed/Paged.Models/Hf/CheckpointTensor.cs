namespace Paged.Models.Hf;

/// <summary>A tensor to write: name, shape (outermost first) and a producer of its fp32 elements [start, start + chunk.Length).</summary>
public sealed record CheckpointTensor(string Name, long[] Shape, Action<long, Span<float>> Fill);
