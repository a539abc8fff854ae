using System.Diagnostics;
using System.Globalization;
using Paged.Engine;
using Paged.Server;

namespace Paged.Cli;

/// <summary>
/// <c>paged run-batch -i IN.jsonl -o OUT.jsonl</c>: every request line of an OpenAI batch file goes through the
/// server's endpoints (<see cref="LocalApi"/>) on ONE engine, so the lines batch continuously; at most
/// --max-concurrent-requests run at once (the engine's admission queue never overflows). Results are written in
/// input order as they become ready. Exit status 0 when every line succeeded, 1 when any failed.
/// </summary>
internal static class RunBatchCommand
{
    public static int Run(RunBatchOptions o)
    {
        if (!double.IsFinite(o.ProgressInterval) || o.ProgressInterval < 0)
            throw new ArgumentException($"--progress-interval must be a number of seconds >= 0 (got {o.ProgressInterval})");
        if (o.MaxConcurrentRequests < 0)
            throw new ArgumentException($"--max-concurrent-requests must be positive (got {o.MaxConcurrentRequests})");
        var options = o.ToServerOptions();
        options.Validate();
        if (!File.Exists(o.Input))
            throw new FileNotFoundException($"batch input file '{o.Input}' not found", o.Input);
        int total = File.ReadLines(o.Input).Count(l => !string.IsNullOrWhiteSpace(l));
        var (template, _) = ChatPrompt.Select(o.Model, o.ChatTemplate);
        int concurrency = o.MaxConcurrentRequests > 0 ? o.MaxConcurrentRequests : 2 * o.EffectiveMaxNumSeqs;

        using var engine = AsyncEngine.Create(o.Model, o.Tokenizer, EngineFactory.ToEngineOptions(o),
            new AsyncEngineOptions { MaxPendingRequests = concurrency * options.MaxPromptsPerRequest });
        var api = new LocalApi(engine, template, options);
        var progress = new BatchProgress(total, BatchProgress.Choose(o.NoProgress), TimeSpan.FromSeconds(o.ProgressInterval));
        long start = Stopwatch.GetTimestamp();
        int failed = progress.RunAsync(() => RunAsync(api, o.Input, o.Output, concurrency, progress)).GetAwaiter().GetResult();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        engine.ShutdownAsync(drain: false, CancellationToken.None).GetAwaiter().GetResult();

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"run-batch: {total} requests, {total - failed} succeeded, {failed} failed; {progress.Tally.Tokens} tokens in {seconds:F2} s "
            + $"({progress.Tally.Tokens / Math.Max(seconds, 1e-9):F1} tok/s); results in {o.Output}"));
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Reads, submits and writes every line; returns how many failed.</summary>
    private static async Task<int> RunAsync(LocalApi api, string inputPath, string outputPath, int concurrency, BatchProgress progress)
    {
        using var input = new StreamReader(inputPath);
        var output = new StreamWriter(outputPath, append: false);
        await using (output.ConfigureAwait(false))
        {
            var results = new OrderedJsonlWriter(output);
            using var slots = new SemaphoreSlim(concurrency);
            var running = new List<Task>();
            var seenIds = new HashSet<string>(StringComparer.Ordinal);
            int failed = 0;
            int lineNumber = 0;
            int index = 0;
            while (await input.ReadLineAsync().ConfigureAwait(false) is { } text)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(text))
                    continue;
                var line = BatchLine.Parse(text, lineNumber, seenIds);
                int at = index++;
                if (line.Error is not null)
                {
                    results.Add(at, BatchOutput.FromLineError(line));
                    Interlocked.Increment(ref failed);
                    progress.Finished(0);
                    continue;
                }

                await slots.WaitAsync().ConfigureAwait(false);
                running.Add(Task.Run(async () =>
                {
                    try
                    {
                        var result = await InvokeAsync(api, line).ConfigureAwait(false);
                        if (result.StatusCode != 200)
                            Interlocked.Increment(ref failed);
                        results.Add(at, BatchOutput.FromResult(line, result));
                        progress.Finished(result.CompletionTokens);
                    }
                    finally
                    {
                        slots.Release();
                    }
                }));
            }

            await Task.WhenAll(running).ConfigureAwait(false);
            return failed;
        }
    }

    private static async Task<LocalApiResult> InvokeAsync(LocalApi api, BatchLine line)
    {
        try
        {
            return await api.InvokeAsync(line.Url, line.Body).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // one line's unexpected failure is that line's error; the batch goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            return new LocalApiResult(500, ApiException.ErrorBody($"internal error: {e.GetType().Name}: {e.Message}", "server_error", null, "500"), 0);
        }
    }
}
