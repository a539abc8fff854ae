namespace Paged.Engine;

/// <summary>Scheduling attributes of a request (besides its sampling parameters).</summary>
public sealed record RequestAttributes
{
    /// <summary>Lower values are served first by the priority policy.</summary>
    public int Priority { get; init; }

    /// <summary>Who the request is charged to by the fair policy ("" = the default tenant).</summary>
    public string Tenant { get; init; } = "";

    /// <summary>Anything besides tokens that changes the KV (an adapter id); part of the prefix-cache keys.</summary>
    public ulong ExtraKey { get; init; }
}
