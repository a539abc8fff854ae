using Spectre.Console;
using Spectre.Console.Rendering;

namespace Paged.Cli;

/// <summary>
/// The terminal view of <see cref="BatchProgress"/>: a Spectre.Console progress bar on stderr with
/// requests done / total, tokens per second, elapsed time and the time left. Spectre redraws it on its
/// own timer while the work runs on the caller's thread.
/// </summary>
internal static class BatchProgressBar
{
    public static T Run<T>(BatchTally tally, Action<Action<int>> attach, Func<T> work) =>
        Create(tally).Start(ctx =>
        {
            attach(Updater(ctx.AddTask("requests", maxValue: tally.Total)));
            return work();
        });

    public static Task<T> RunAsync<T>(BatchTally tally, Action<Action<int>> attach, Func<Task<T>> work) =>
        Create(tally).StartAsync(ctx =>
        {
            attach(Updater(ctx.AddTask("requests", maxValue: tally.Total)));
            return work();
        });

    private static Action<int> Updater(ProgressTask task) => done => task.Value = done;

    private static Progress Create(BatchTally tally)
    {
        // BatchProgress chose the bar because stderr is a terminal; Spectre's own detection looks at stdout,
        // which may well be redirected to a file (the results), so it is told.
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Error),
            Ansi = AnsiSupport.Yes,
            Interactive = InteractionSupport.Yes,
        });
        return console.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new CountColumn(),
                new PercentageColumn(),
                new RateColumn(tally),
                new ElapsedTimeColumn(),
                new RemainingTimeColumn());
    }

    /// <summary>"3/10".</summary>
    private sealed class CountColumn : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text($"{task.Value:0}/{task.MaxValue:0}");
    }

    /// <summary>Generated tokens per second over the whole batch so far.</summary>
    private sealed class RateColumn(BatchTally tally) : ProgressColumn
    {
        protected override bool NoWrap => true;

        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(tally.RateText, new Style(Color.Aqua));
    }
}
