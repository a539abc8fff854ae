using System.Diagnostics;
using System.Globalization;

namespace Paged.Cli;

/// <summary>Requests finished and tokens generated so far in a batch, with the rate and the time left.</summary>
internal sealed class BatchTally(int total)
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private int _done;
    private long _tokens;

    public int Total { get; } = total;

    public int Done => Volatile.Read(ref _done);

    public long Tokens => Interlocked.Read(ref _tokens);

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>Generated tokens per second of wall time since the start.</summary>
    public double TokensPerSecond => Tokens / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>Time left at the mean time per finished request so far; null before the first one.</summary>
    public TimeSpan? Eta => Done == 0 ? null : Elapsed * ((double)(Total - Done) / Done);

    /// <summary>Counts one finished request; returns how many are done now. Thread-safe.</summary>
    public int Add(long tokens)
    {
        Interlocked.Add(ref _tokens, tokens);
        return Interlocked.Increment(ref _done);
    }

    /// <summary>"12.3 tok/s".</summary>
    public string RateText => string.Create(CultureInfo.InvariantCulture, $"{TokensPerSecond:F1} tok/s");

    /// <summary>One plain line: "progress: 3/10 requests, 120 tokens, 250.3 tok/s, elapsed 0.5 s, ETA 1.2 s".</summary>
    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"progress: {Done}/{Total} requests, {Tokens} tokens, {RateText}, elapsed {Elapsed.TotalSeconds:F1} s, ETA {(Eta is { } eta ? $"{eta.TotalSeconds:F1} s" : "-")}");
}
