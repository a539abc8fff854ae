using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Models.Templates;
using Paged.Server.KvTransfer;
using static Paged.Server.HttpHosting;

namespace Paged.Server;

/// <summary>
/// The OpenAI-compatible HTTP server (ASP.NET Core minimal APIs on Kestrel) in front of an <see cref="AsyncEngine"/>.
/// The engine is the caller's: the server never disposes it.
/// </summary>
public sealed class PagedServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly KvTransferHost? _transfer;

    private PagedServer(WebApplication app, int port, KvTransferHost? transfer)
    {
        _app = app;
        Port = port;
        _transfer = transfer;
    }

    /// <summary>This instance's id (a GUID per start), reported on /health and in transfer parameters.</summary>
    public string InstanceId => _transfer?.InstanceId ?? "";

    /// <summary>The KV transfer listener's "host:port" (prefill role, or --kv-transfer-port); null without one.</summary>
    public string? KvTransferAddress => _transfer?.Address;

    /// <summary>The bound port (the chosen one when <see cref="ServerOptions.Port"/> was 0).</summary>
    public int Port { get; }

    public static async Task<PagedServer> StartAsync(AsyncEngine engine, ChatTemplate chatTemplate, ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(chatTemplate);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var builder = HttpHosting.CreateBuilder(options.Host, options.Port, options.MaxBodyBytes);
        var transfer = KvTransferHost.Configure(builder, engine, options);
        var app = builder.Build();

        var metrics = new ServerMetrics(options.ServedModelName, options.RecentRequests);
        engine.StepCompleted += (_, e) => metrics.StepCompleted(e.Snapshot);
        var runner = new GenerationRunner(engine, options, metrics);
        var chat = new ChatPrompt(chatTemplate, engine.Tokenizer);
        string fingerprint = $"fp_paged_{engine.Options.Device}";
        var transferEndpoint = transfer.CreateEndpoint(app, runner, metrics);
        var completions = new CompletionsEndpoint(runner, options, fingerprint, transferEndpoint);
        var chatCompletions = new ChatCompletionsEndpoint(runner, chat, options, fingerprint, transferEndpoint);
        var utility = new UtilityEndpoints(engine, chat, options, metrics, transfer.Describe);
        var status = new StatusEndpoint(engine, options, metrics);

        if (options.ApiKey is { Length: > 0 } key)
            app.Use(RequireApiKey(key));
        app.MapPost("/v1/completions", Guard(completions.HandleAsync));
        app.MapPost("/v1/chat/completions", Guard(chatCompletions.HandleAsync));
        app.MapGet("/v1/models", Guard(utility.ModelsAsync));
        app.MapGet("/health", Guard(utility.HealthAsync));
        app.MapPost("/tokenize", Guard(utility.TokenizeAsync));
        app.MapPost("/detokenize", Guard(utility.DetokenizeAsync));
        app.MapGet("/metrics", Guard(utility.MetricsAsync));
        app.MapGet("/v1/status", Guard(status.HandleAsync));
        if (options.EnableConsole)
            ConsoleAssets.Map(app, Guard);
        var weights = new WeightEndpoints(engine, options);
        app.MapPost("/v1/update_weights", Guard(weights.UpdateWeightsAsync));
        app.MapPost("/v1/reset_prefix_cache", Guard(weights.ResetPrefixCacheAsync));
        var lora = new LoraEndpoints(engine, options);
        app.MapPost("/v1/load_lora_adapter", Guard(lora.LoadAsync));
        app.MapPost("/v1/unload_lora_adapter", Guard(lora.UnloadAsync));
        app.MapFallback(Guard(ctx => throw new ApiException(404, $"no route {ctx.Request.Method} {ctx.Request.Path}", code: "not_found")));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        transfer.Start();
        return new PagedServer(app, BoundPort(app), transfer);
    }

    public async ValueTask DisposeAsync()
    {
        if (_transfer is not null)
            await _transfer.DisposeAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
