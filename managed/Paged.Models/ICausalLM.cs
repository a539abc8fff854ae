using Paged.Runtime;

namespace Paged.Models;

/// <summary>
/// A decoder-only language model on one device: runs a <see cref="StepBatch"/> (prefill chunks and decode tokens of
/// many sequences) against the paged <see cref="KvCache"/> and leaves the requested rows' logits on the device.
/// Built by <see cref="ModelRegistry.Create"/> from the weights' architecture.
/// </summary>
public interface ICausalLM : IDisposable
{
    ModelConfig Config { get; }

    DeviceContext Context { get; }

    /// <summary>Most tokens one step may carry.</summary>
    int MaxTokens { get; }

    /// <summary>Most sequences (and logit rows) one step may carry.</summary>
    int MaxSeqs { get; }

    /// <summary>Width of the block tables in a <see cref="StepBatch"/>.</summary>
    int MaxBlocksPerSeq { get; }

    /// <summary>Device address of the logits the last <see cref="Forward"/> wrote: [NumLogitRows, vocab], fp32, dense.</summary>
    nint LogitsAddress { get; }

    /// <summary>
    /// Stages <paramref name="batch"/>'s index arrays into the caller's packed upload of the step (paged.h: index
    /// arrays are device memory); the next <see cref="Forward"/> of that batch, after the caller's flush, uses them.
    /// </summary>
    void Stage(StepBatch batch, StagingBuffer upload);

    /// <summary>Runs the model over <paramref name="batch"/>, writing its keys and values into <paramref name="cache"/>.</summary>
    void Forward(StepBatch batch, KvCache cache);

    /// <summary>
    /// After <see cref="Forward"/>: overwrites the logits at <see cref="LogitsAddress"/> with those of the given flat token
    /// indices of that batch (at most <see cref="MaxSeqs"/>, any tokens, e.g. every prompt position for prompt logprobs).
    /// Call it once the previous logits have been consumed.
    /// </summary>
    void ProjectRows(ReadOnlySpan<int> tokenIndices) => throw new NotSupportedException($"{GetType().Name} cannot project other rows");

    /// <summary>
    /// Replaces the weights <paramref name="weights"/> names (same config; any subset: the others keep their values;
    /// names, shapes, dtypes and values are checked first); between steps only. Nothing changes if this throws.
    /// </summary>
    void ReplaceWeights(ModelWeights weights) => throw new NotSupportedException($"{GetType().Name} cannot replace its weights");

    /// <summary>The model's LoRA adapter slots, or null when it was built without them (<see cref="ModelCapacity.MaxLoras"/> 0).</summary>
    Lora.LoraSlotStore? LoraSlots => null;
}

/// <summary>The step sizes a model's workspace is allocated for.</summary>
public sealed record ModelCapacity(int MaxTokens, int MaxSeqs, int MaxBlocksPerSeq)
{
    /// <summary>Run every query token through one attention kernel (prefill) and every matmul with
    /// <c>batch_invariant</c> (a fixed summation order), so no result depends on the batch's mix.</summary>
    public bool BatchInvariant { get; init; }

    /// <summary>LoRA adapters resident at once (device slots); 0: no LoRA support.</summary>
    public int MaxLoras { get; init; }

    /// <summary>Largest LoRA rank a slot holds.</summary>
    public int MaxLoraRank { get; init; } = 16;

    /// <summary>Element type of the adapter slots (auto: see <see cref="Lora.LoraDTypes.Resolve"/>).</summary>
    public Lora.LoraDType LoraDType { get; init; }
}
