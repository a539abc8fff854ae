namespace Paged.Engine;

/// <summary>The admission queue is full (<see cref="AsyncEngineOptions.MaxPendingRequests"/>): retry later (HTTP 429/503).</summary>
public sealed class EngineOverloadedException : Exception
{
    public EngineOverloadedException()
        : base("the engine's admission queue is full")
    {
    }

    public EngineOverloadedException(string message)
        : base(message)
    {
    }

    public EngineOverloadedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The limit that was reached.</summary>
    public int MaxPendingRequests { get; init; }
}
