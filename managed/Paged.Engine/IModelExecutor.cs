namespace Paged.Engine;

/// <summary>
/// Executes a <see cref="StepPlan"/>: swaps, copy-on-write copies, one forward pass, and sampling.
/// For every chunk that samples it adds (sequence, token) to <c>sampled</c>, followed by one entry per
/// sibling in the sequence's pending forks (n > 1), each drawn from the same logits with the sibling's
/// own generator. The engine's <see cref="ModelRunner"/> implements it; tests use a fake.
/// </summary>
public interface IModelExecutor : IDisposable
{
    void Execute(StepPlan plan, List<(Sequence Seq, int Token)> sampled);

    /// <summary>Replaces the model's weights between steps (<see cref="LlmEngine.UpdateWeights(Paged.Models.ModelWeights)"/>); executors without a model refuse.</summary>
    void ReplaceWeights(Paged.Models.ModelWeights weights) => throw new NotSupportedException($"{GetType().Name} cannot replace model weights");

    /// <summary>The LoRA slots' residency when the executor's model has slots (null: requests cannot use adapters).</summary>
    Lora.LoraResidency? Adapters => null;
}
