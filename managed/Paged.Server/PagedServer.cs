using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Paged.Engine;
using Paged.Models.Templates;

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

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes + 1;
            k.AddServerHeader = false;
            if (IPAddress.TryParse(options.Host, out var address))
                k.Listen(address, options.Port);
            else if (options.Host == "localhost")
                k.ListenLocalhost(options.Port);
            else
                throw new ArgumentException($"--host must be an IP address or localhost (got '{options.Host}')");
        });
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
        var lora = new LoraEndpoints(engine, options);
        app.MapPost("/v1/load_lora_adapter", Guard(lora.LoadAsync));
        app.MapPost("/v1/unload_lora_adapter", Guard(lora.UnloadAsync));
        app.MapFallback(Guard(ctx => throw new ApiException(404, $"no route {ctx.Request.Method} {ctx.Request.Path}", code: "not_found")));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        int port = new Uri(addresses.First()).Port;
        return new PagedServer(app, port);
    }

    /// <summary>Every /v1 route needs "Authorization: Bearer KEY" (compared in constant time); 401 otherwise.</summary>
    private static Func<HttpContext, RequestDelegate, Task> RequireApiKey(string key)
    {
        byte[] expected = Encoding.UTF8.GetBytes("Bearer " + key);
        return (ctx, next) =>
        {
            if (!ctx.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal))
                return next(ctx);
            byte[] given = Encoding.UTF8.GetBytes(ctx.Request.Headers.Authorization.ToString());
            if (CryptographicOperations.FixedTimeEquals(given, expected))
                return next(ctx);
            return JsonResponses.WriteErrorAsync(ctx.Response,
                new ApiException(401, "missing or invalid API key: send 'Authorization: Bearer <key>'", code: "invalid_api_key"), ctx.RequestAborted);
        };
    }

    /// <summary>Turns failures into OpenAI-shaped errors (before the response started; after, the stream reports them).</summary>
    private static RequestDelegate Guard(Func<HttpContext, Task> handler) => async ctx =>
    {
        try
        {
            await handler(ctx).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client left; nobody is listening.
        }
        catch (ApiException e) when (!ctx.Response.HasStarted)
        {
            await JsonResponses.WriteErrorAsync(ctx.Response, e, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!ctx.Response.HasStarted)
        {
            var error = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? new ApiException(413, "the request body is too large", code: "request_too_large")
                : new ApiException(e.StatusCode, $"bad request: {e.Message}");
            await JsonResponses.WriteErrorAsync(ctx.Response, error, ctx.RequestAborted).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // a handler's bug is a 500 for that request, never a dead server
        catch (Exception e) when (!ctx.Response.HasStarted)
#pragma warning restore CA1031
        {
            await JsonResponses.WriteErrorAsync(ctx.Response, new ApiException(500, $"internal error: {e.GetType().Name}: {e.Message}"), ctx.RequestAborted).ConfigureAwait(false);
        }
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
