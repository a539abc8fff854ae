using System.Runtime.InteropServices;
using Paged.Engine;
using Paged.Server;

namespace Paged.Cli;

/// <summary><c>paged serve</c>: the OpenAI-compatible server until Ctrl+C or SIGTERM, then a draining shutdown.</summary>
internal static class ServeCommand
{
    public static int Run(ServeOptions o)
    {
        var options = o.ToServerOptions() with
        {
            Host = o.Host,
            Port = o.Port,
            ApiKey = o.ApiKey ?? NullIfEmpty(Environment.GetEnvironmentVariable("PAGED_API_KEY")),
            MaxBodyBytes = EngineFactory.ParseSize(o.MaxBodySize),
            AllowRuntimeLora = o.AllowRuntimeLora,
            LoraUnloadTimeout = o.LoraUnloadTimeoutSeconds >= 0
                ? TimeSpan.FromSeconds(o.LoraUnloadTimeoutSeconds)
                : throw new ArgumentException($"--lora-unload-timeout must not be negative (got {o.LoraUnloadTimeoutSeconds})"),
        };
        options.Validate();
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });

        return RunAsync(o, options, stop.Token).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(ServeOptions o, ServerOptions options, CancellationToken stop)
    {
        var engine = AsyncEngine.Create(o.Model, o.Tokenizer, EngineFactory.ToEngineOptions(o),
            new AsyncEngineOptions { MaxPendingRequests = o.MaxPendingRequests });
        await using (engine.ConfigureAwait(false))
        {
            EngineFactory.LoadAdapters(engine.Adapters, o.Loras);
            var (template, templateSource) = ChatPrompt.Select(o.Model, o.ChatTemplate, engine.Tokenizer.ChatTemplate);
            var server = await PagedServer.StartAsync(engine, template, options, stop).ConfigureAwait(false);
            await using (server.ConfigureAwait(false))
            {
                string host = options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]" : options.Host;
                Console.WriteLine($"paged serve: listening on http://{host}:{server.Port} (model '{options.ServedModelName}', "
                    + $"{engine.DeviceName}, context {engine.MaxContext}, chat template: {templateSource}"
                    + (options.ApiKey is null ? ")" : ", API key required)"));
                try
                {
                    await Task.Delay(Timeout.Infinite, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                Console.WriteLine("paged serve: shutting down");
            }

            await engine.ShutdownAsync(drain: false, CancellationToken.None).ConfigureAwait(false);
        }

        return 0;
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
