using System.Diagnostics;
using System.Globalization;
using Paged.Engine;
using Paged.Server;

namespace Paged.Cli;

/// <summary>
/// <c>paged run-batch -i IN.jsonl -o OUT.jsonl</c>: every request line of an OpenAI batch file goes through the
/// server's endpoints (<see cref="LocalApi"/>) on ONE engine, so the lines batch continuously; at most
/// --max-concurrent-requests run at once (the engine's admission queue never overflows). Results are written in
/// input order as they become ready. Ctrl+C or SIGTERM stops reading, cancels the running lines (reported as
/// cancelled) and keeps every result so far. Exit status 0 when every line succeeded, 1 when any failed, 130 when
/// interrupted.
/// </summary>
internal static class RunBatchCommand
{
    public static int Run(RunBatchOptions o)
    {
        var interval = BatchProgress.IntervalOption(o.ProgressInterval);
        if (o.MaxConcurrentRequests < 0)
            throw new ArgumentException($"--max-concurrent-requests must be positive (got {o.MaxConcurrentRequests})");
        var options = o.ToServerOptions();
        options.Validate();
        if (!File.Exists(o.Input))
            throw new FileNotFoundException($"batch input file '{o.Input}' not found", o.Input);
        int total = File.ReadLines(o.Input).Count(l => !string.IsNullOrWhiteSpace(l));
        int concurrency = o.MaxConcurrentRequests > 0 ? o.MaxConcurrentRequests : 2 * o.EffectiveMaxNumSeqs;

        using var engine = AsyncEngine.Create(o.Model, o.Tokenizer, EngineFactory.ToEngineOptions(o),
            new AsyncEngineOptions { MaxPendingRequests = concurrency * options.MaxPromptsPerRequest });
        EngineFactory.LoadAdapters(engine.Adapters, o.Loras);
        var (template, _) = ChatPrompt.Select(o.Model, o.ChatTemplate, engine.Tokenizer.ChatTemplate);
        var api = new LocalApi(engine, template, options);
        var progress = new BatchProgress(total, BatchProgress.Choose(o.NoProgress), interval);
        long start = Stopwatch.GetTimestamp();
        using var stop = new StopSignal();
        var (lines, failed) = progress.RunAsync(() => RunAsync(api, o.Input, o.Output, concurrency, progress, stop.Token)).GetAwaiter().GetResult();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        engine.ShutdownAsync(drain: false, CancellationToken.None).GetAwaiter().GetResult();

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"run-batch: {(stop.Token.IsCancellationRequested ? $"interrupted after {lines} of " : "")}{total} requests, {lines - failed} succeeded, {failed} failed; "
            + $"{progress.Tally.Tokens} tokens in {seconds:F2} s ({progress.Tally.Tokens / Math.Max(seconds, 1e-9):F1} tok/s); results in {o.Output}"));
        return stop.Token.IsCancellationRequested ? 130 : failed == 0 ? 0 : 1;
    }

    /// <summary>Reads, submits and writes every line (until <paramref name="stop"/>); returns how many lines were answered and how many failed.</summary>
    private static async Task<(int Lines, int Failed)> RunAsync(LocalApi api, string inputPath, string outputPath, int concurrency, BatchProgress progress, CancellationToken stop)
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
            while (!stop.IsCancellationRequested && await input.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } text)
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

                try
                {
                    await slots.WaitAsync(stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    results.Add(at, BatchOutput.Cancelled(line));
                    Interlocked.Increment(ref failed);
                    break;
                }

                // Called directly, not through Task.Run: InvokeAsync submits before its first await, so the engine
                // receives the lines in input order.
                running.Add(RunLineAsync(line, at));
                if (running.Count >= 4 * concurrency)
                    running.RemoveAll(t => t.IsCompletedSuccessfully); // a long file keeps only running (or failed) tasks
            }

            async Task RunLineAsync(BatchLine line, int at)
            {
                try
                {
                    var result = await InvokeAsync(api, line, stop).ConfigureAwait(false);
                    if (result?.StatusCode != 200)
                        Interlocked.Increment(ref failed);
                    results.Add(at, result is null ? BatchOutput.Cancelled(line) : BatchOutput.FromResult(line, result));
                    progress.Finished(result?.CompletionTokens ?? 0);
                }
                finally
                {
                    slots.Release();
                }
            }

            await Task.WhenAll(running).ConfigureAwait(false);
            return (index, failed);
        }
    }

    /// <summary>The line's answer; null when the batch was interrupted first.</summary>
    private static async Task<LocalApiResult?> InvokeAsync(LocalApi api, BatchLine line, CancellationToken stop)
    {
        try
        {
            return await api.InvokeAsync(line.Url, line.Body, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return null;
        }
#pragma warning disable CA1031 // one line's unexpected failure is that line's error; the batch goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            return new LocalApiResult(500, ApiException.ErrorBody($"internal error: {e.GetType().Name}: {e.Message}", "server_error", null, "500"), 0);
        }
    }
}
