using Paged.Engine.Kv;

namespace Paged.Engine.KvTransfer;

/// <summary>
/// The seam between the scheduler and KV that lives outside this engine (vLLM's KV connector). Consumer side:
/// the scheduler asks how many prompt tokens the connector can supply for a waiting sequence (no side effects),
/// allocates blocks for them, and the connector plans their load, which the model executor performs before
/// the step's forward pass. Producer side: when a sequence finishes, the connector may keep its blocks pinned
/// (for another engine to pull) until it releases them. Engine thread only.
/// </summary>
public interface IKvConnector
{
    /// <summary>Prompt tokens whose KV the connector can supply for <paramref name="seq"/> now (0: compute it here). Side-effect free.</summary>
    int ExternalTokens(Sequence seq);

    /// <summary>The scheduler allocated blocks for the external tokens: plan the load (the executor runs it before the step).</summary>
    void PlanLoad(Sequence seq, StepPlan plan);

    /// <summary>A planned load ran: the sequence's first token and its now computed prompt are applied by the scheduler; drop the source.</summary>
    void LoadCompleted(Sequence seq);

    /// <summary>A sequence is finishing and its blocks are about to be freed: keep them pinned when they are wanted elsewhere.</summary>
    void OnFinishing(Sequence seq, KvCacheManager kv);
}
