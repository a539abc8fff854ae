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
            ApiKey = ServingConsole.OptionOrEnvironment(o.ApiKey, "PAGED_API_KEY"),
            MaxBodyBytes = EngineFactory.ParseSize(o.MaxBodySize),
            Role = o.Role,
            KvTransferPort = o.KvTransferPort,
            KvLoadFailurePolicy = o.KvLoadFailurePolicy,
            KvTransferTimeout = o.KvTransferTimeoutSeconds > 0
                ? TimeSpan.FromSeconds(o.KvTransferTimeoutSeconds)
                : throw new ArgumentException($"--kv-transfer-timeout must be positive (got {o.KvTransferTimeoutSeconds})"),
            EnableConsole = !o.NoUi,
            RecentRequests = o.RecentRequests,
            AllowWeightUpdates = o.AllowWeightUpdates,
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
        var engineOptions = EngineFactory.ToEngineOptions(o) with { KvLease = TimeSpan.FromSeconds(o.KvLeaseSeconds) };
        var engine = AsyncEngine.Create(o.Model, o.Tokenizer, engineOptions,
            new AsyncEngineOptions { MaxPendingRequests = o.MaxPendingRequests });
        await using (engine.ConfigureAwait(false))
        {
            EngineFactory.LoadAdapters(engine.Adapters, o.Loras);
            var (template, templateSource) = ChatPrompt.Select(o.Model, o.ChatTemplate, engine.Tokenizer.ChatTemplate);
            var server = await PagedServer.StartAsync(engine, template, options, stop).ConfigureAwait(false);
            await using (server.ConfigureAwait(false))
            {
                Console.WriteLine($"paged serve: listening on http://{ServingConsole.UrlHost(options.Host)}:{server.Port} (model '{options.ServedModelName}', "
                    + $"{engine.DeviceName}, context {engine.MaxContext}, chat template: {templateSource}"
                    + (options.ApiKey is null ? ")" : ", API key required)"));
                if (options.EnableConsole)
                    Console.WriteLine($"paged serve: console at http://{ServingConsole.UrlHost(options.Host)}:{server.Port}/");
                if (options.Role != ServeRole.Both || server.KvTransferAddress is not null)
                {
                    Console.WriteLine($"paged serve: role {options.Role.ToString().ToLowerInvariant()}, instance {server.InstanceId}"
                        + (server.KvTransferAddress is { } kv ? $", KV transfer on {kv} (grpc)" : ""));
                }

                await ServingConsole.WaitForStopAsync(stop).ConfigureAwait(false);

                Console.WriteLine("paged serve: shutting down");
            }

            await engine.ShutdownAsync(drain: false, CancellationToken.None).ConfigureAwait(false);
        }

        return 0;
    }
}
