using System.Diagnostics;

namespace Paged.Cli.ServeBench;

/// <summary>The request loop of one benchmark run.</summary>
public static class ServeBenchRunner
{
    /// <summary>Sends each request at its offset (waiting for a concurrency slot if capped) and collects the records.</summary>
    public static async Task<(List<RequestRecord> Records, double Seconds)> RunOnce(
        CompletionStreamClient client, IReadOnlyList<ServeRequestSpec> workload, double[] offsets, int maxConcurrency)
    {
        using var slots = maxConcurrency > 0 ? new SemaphoreSlim(maxConcurrency) : null;
        var tasks = new Task<RequestRecord>[workload.Count];
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < workload.Count; i++)
        {
            var due = TimeSpan.FromSeconds(offsets[i]) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.Zero)
                await Task.Delay(due).ConfigureAwait(false);
            if (slots is not null)
                await slots.WaitAsync().ConfigureAwait(false);
            var spec = workload[i];
            tasks[i] = Task.Run(async () =>
            {
                try
                {
                    return await client.SendAsync(spec, CancellationToken.None).ConfigureAwait(false);
                }
                finally
                {
                    slots?.Release();
                }
            });
        }

        var records = await Task.WhenAll(tasks).ConfigureAwait(false);
        return ([.. records], Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
}
