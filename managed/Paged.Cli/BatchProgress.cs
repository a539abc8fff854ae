namespace Paged.Cli;

/// <summary>How a batch shows its progress (on stderr: stdout carries the results).</summary>
internal enum ProgressMode
{
    Off,

    /// <summary>A live bar (stderr is a terminal).</summary>
    Bar,

    /// <summary>Plain lines, at most one per interval (stderr is a file or a pipe).</summary>
    Lines,
}

/// <summary>
/// Progress of a batch of requests (<c>paged generate</c> with many prompts, <c>paged run-batch</c>):
/// requests done / total, generated tokens per second and the time left, on stderr. Wrap the work in
/// <see cref="Run{T}"/> (or <see cref="RunAsync{T}"/>) and call <see cref="Finished"/> once per finished
/// request with its token count, from any thread.
/// </summary>
internal sealed class BatchProgress
{
    private readonly ProgressMode _mode;
    private readonly TimeSpan _interval;
    private readonly TextWriter _lines;
    private readonly Lock _lineLock = new();
    private TimeSpan _lastLine;
    private Action<int>? _barUpdate;

    /// <param name="total">Requests in the batch.</param>
    /// <param name="mode">See <see cref="Choose"/>.</param>
    /// <param name="interval">Least time between two plain lines (zero: a line per finished request).</param>
    /// <param name="lines">Where plain lines go (default stderr).</param>
    public BatchProgress(int total, ProgressMode mode, TimeSpan interval, TextWriter? lines = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.Zero);
        Tally = new BatchTally(total);
        _mode = total == 0 ? ProgressMode.Off : mode;
        _interval = interval;
        _lines = lines ?? Console.Error;
    }

    public BatchTally Tally { get; }

    /// <summary>Off when asked; a bar when stderr is a terminal that can redraw; else plain lines.</summary>
    /// <summary>The --progress-interval option as a time span; a clear error for anything but seconds >= 0.</summary>
    public static TimeSpan IntervalOption(double seconds) =>
        double.IsFinite(seconds) && seconds >= 0 ? TimeSpan.FromSeconds(seconds)
        : throw new ArgumentException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"--progress-interval must be a number of seconds >= 0 (got {seconds})"));

    public static ProgressMode Choose(bool noProgress) =>
        noProgress ? ProgressMode.Off
        : !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "" or "dumb") ? ProgressMode.Bar
        : ProgressMode.Lines;

    /// <summary>Runs <paramref name="work"/> with the progress shown; the bar is removed when it returns.</summary>
    public T Run<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return _mode == ProgressMode.Bar ? BatchProgressBar.Run(Tally, update => _barUpdate = update, work) : work();
    }

    /// <summary>As <see cref="Run{T}"/> for asynchronous work.</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return _mode == ProgressMode.Bar ? BatchProgressBar.RunAsync(Tally, update => _barUpdate = update, work) : work();
    }

    /// <summary>Counts a finished request that generated <paramref name="tokens"/> tokens. Thread-safe.</summary>
    public void Finished(long tokens)
    {
        int done = Tally.Add(tokens);
        switch (_mode)
        {
            case ProgressMode.Bar:
                _barUpdate?.Invoke(done);
                break;
            case ProgressMode.Lines:
                WriteLineIfDue();
                break;
        }
    }

    private void WriteLineIfDue()
    {
        lock (_lineLock)
        {
            var now = Tally.Elapsed;
            // The first line waits one interval too: a short batch prints nothing beyond its summary.
            if (now - _lastLine < _interval)
                return;
            _lastLine = now;
            _lines.WriteLine(Tally.Line());
            _lines.Flush();
        }
    }
}
