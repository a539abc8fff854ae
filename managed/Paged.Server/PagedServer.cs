using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Paged.Engine;
using Paged.Models.Templates;
using static Paged.Server.HttpHosting;

namespace Paged.Server;

/// <summary>
/// The OpenAI-compatible HTTP server (ASP.NET Core minimal APIs on Kestrel) in front of an <see cref="AsyncEngine"/>.
/// The engine is the caller's: the server never disposes it.
/// </summary>
public sealed class PagedServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PagedServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    /// <summary>The bound port (the chosen one when <see cref="ServerOptions.Port"/> was 0).</summary>
    public int Port { get; }

    public static async Task<PagedServer> StartAsync(AsyncEngine engine, ChatTemplate chatTemplate, ServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(chatTemplate);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var builder = HttpHosting.CreateBuilder(options.Host, options.Port, options.MaxBodyBytes);
        var app = builder.Build();

        var metrics = new ServerMetrics(options.ServedModelName);
        engine.StepCompleted += (_, e) => metrics.StepCompleted(e.Snapshot);
        var runner = new GenerationRunner(engine, options, metrics);
        var chat = new ChatPrompt(chatTemplate, engine.Tokenizer);
        string fingerprint = $"fp_paged_{engine.Options.Device}";
        var completions = new CompletionsEndpoint(runner, options, fingerprint);
        var chatCompletions = new ChatCompletionsEndpoint(runner, chat, options, fingerprint);
        var utility = new UtilityEndpoints(engine, chat, options, metrics);

        if (options.ApiKey is { Length: > 0 } key)
            app.Use(RequireApiKey(key));
        app.MapPost("/v1/completions", Guard(completions.HandleAsync));
        app.MapPost("/v1/chat/completions", Guard(chatCompletions.HandleAsync));
        app.MapGet("/v1/models", Guard(utility.ModelsAsync));
        app.MapGet("/health", Guard(utility.HealthAsync));
        app.MapPost("/tokenize", Guard(utility.TokenizeAsync));
        app.MapPost("/detokenize", Guard(utility.DetokenizeAsync));
        app.MapGet("/metrics", Guard(utility.MetricsAsync));
        app.MapFallback(Guard(ctx => throw new ApiException(404, $"no route {ctx.Request.Method} {ctx.Request.Path}", code: "not_found")));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return new PagedServer(app, BoundPort(app));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
