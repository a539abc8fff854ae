namespace Paged.Engine;

/// <summary>Why a request stopped generating.</summary>
public enum FinishReason
{
    /// <summary>Still generating.</summary>
    None = 0,

    /// <summary>An end-of-sequence token, a stop token id or a stop string.</summary>
    Stop,

    /// <summary>max_tokens reached, or the model's context is full.</summary>
    Length,

    /// <summary>Cancelled by the caller.</summary>
    Abort,

    /// <summary>The request failed (e.g. the model produced NaN or infinite logits); see <see cref="RequestOutput.Error"/>.</summary>
    Error,
}
