using Paged.Engine;

namespace Paged.Server;

/// <summary>One finished (or abandoned) engine request as /v1/status lists it. Times are seconds; null when the milestone was never reached.</summary>
/// <param name="Id">The request's id (the response id's prompt part, or the engine id).</param>
/// <param name="ArrivalTime">When it arrived (UTC).</param>
/// <param name="QueueSeconds">Arrival to first scheduled.</param>
/// <param name="TtftSeconds">Arrival to the first generated token.</param>
/// <param name="TpotSeconds">Mean time per generated token after the first (the longest completion).</param>
/// <param name="TotalSeconds">Arrival to the end.</param>
/// <param name="FinishReason">stop, length, abort or error.</param>
public sealed record RequestRecord(
    string Id,
    string Tenant,
    DateTimeOffset ArrivalTime,
    double? QueueSeconds,
    double? TtftSeconds,
    double? TpotSeconds,
    double? TotalSeconds,
    int PromptTokens,
    int CachedPromptTokens,
    int CompletionTokens,
    int Preemptions,
    string FinishReason)
{
    /// <summary>From the request's last output: its final one, or (<paramref name="abandoned"/>) the last seen before the client left or the timeout struck.</summary>
    public static RequestRecord From(RequestOutput output, string tenant, bool abandoned, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(output);
        var t = output.Timings;
        int longest = output.Completions.Count == 0 ? 0 : output.Completions.Max(c => c.TokenIds.Count);
        double? total = abandoned ? (now - t.ArrivalTime).TotalSeconds : t.FinishedSeconds;
        return new RequestRecord(
            output.ExternalId.Length > 0 ? output.ExternalId : output.RequestId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            tenant,
            t.ArrivalTime,
            t.Scheduled ? t.QueueSeconds : null,
            t.FirstTokenSeconds,
            abandoned ? null : t.TimePerOutputToken(longest),
            total,
            output.PromptTokenIds.Count,
            output.CachedPromptTokens,
            output.Completions.Sum(c => c.TokenIds.Count),
            t.PreemptionCount,
            abandoned ? "abort" : ServerMetrics.ReasonLabel(output.FinishReason));
    }
}

/// <summary>The last N finished requests, newest first on reading: a fixed ring, safe to use from any thread.</summary>
public sealed class RecentRequests
{
    private readonly RequestRecord?[] _ring;
    private readonly Lock _lock = new();
    private long _added;

    public RecentRequests(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _ring = new RequestRecord?[capacity];
    }

    public int Capacity => _ring.Length;

    /// <summary>Requests recorded since the start (including those the ring no longer holds).</summary>
    public long Added
    {
        get
        {
            lock (_lock)
                return _added;
        }
    }

    public void Add(RequestRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_lock)
        {
            if (_ring.Length > 0)
                _ring[_added % _ring.Length] = record;
            _added++;
        }
    }

    /// <summary>The records held, newest first.</summary>
    public IReadOnlyList<RequestRecord> Newest()
    {
        lock (_lock)
        {
            int count = (int)Math.Min(_added, _ring.Length);
            var list = new List<RequestRecord>(count);
            for (long i = _added - 1; i >= _added - count; i--)
                list.Add(_ring[i % _ring.Length]!);
            return list;
        }
    }
}
