namespace Paged.Engine;

/// <summary>
/// Settings of <see cref="AsyncEngine"/>'s front end (the engine's own are <see cref="EngineOptions"/>). Each
/// request's output channel is unbounded, so the engine's loop never waits for a slow reader.
/// </summary>
public sealed record AsyncEngineOptions
{
    /// <summary>
    /// Most requests waiting to start (accepted by <see cref="AsyncEngine.GenerateAsync"/> but not yet scheduled
    /// for the first time); beyond it new requests are refused with <see cref="EngineOverloadedException"/>.
    /// </summary>
    public int MaxPendingRequests { get; init; } = 1024;

    public void Validate()
    {
        if (MaxPendingRequests < 1)
            throw new ArgumentException($"MaxPendingRequests must be at least 1 (got {MaxPendingRequests})");
    }
}
