using System.Diagnostics;
using Paged.Engine;

namespace Paged.Server;

/// <summary>Inter-token latency of one request as the server sees it: the time between outputs that carry new tokens, per token.</summary>
internal sealed class LatencyTracker
{
    private long _lastTicks;
    private int _lastTokens;

    public void Observe(RequestOutput output, ServerMetrics metrics)
    {
        int tokens = output.Completions.Sum(c => c.TokenIds.Count);
        if (tokens <= _lastTokens)
            return;
        long now = Stopwatch.GetTimestamp();
        if (_lastTicks != 0)
        {
            double seconds = Stopwatch.GetElapsedTime(_lastTicks, now).TotalSeconds;
            int added = tokens - _lastTokens;
            for (int i = 0; i < added; i++)
                metrics.InterTokenLatency(seconds / added);
        }

        _lastTicks = now;
        _lastTokens = tokens;
    }
}
