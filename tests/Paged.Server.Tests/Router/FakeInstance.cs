using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Paged.Server.Tests.Router;

/// <summary>One call a fake instance received.</summary>
internal sealed record FakeCall(string Path, JsonObject Body, string Authorization);

/// <summary>
/// An upstream instance for router tests: Kestrel on 127.0.0.1 (a free port) in this process, implementing the
/// prefill/decode HTTP contract with canned answers (<see cref="FakeAnswers"/>) unless a test sets its own handler.
/// It records every completion call, answers /health with <see cref="HealthStatus"/> and /metrics with <see cref="MetricsText"/>.
/// </summary>
internal sealed class FakeInstance : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeInstance(WebApplication app, Func<HttpContext, JsonObject, Task> handler)
    {
        _app = app;
        Handler = handler;
        int port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    public Uri BaseAddress { get; }

    public ConcurrentQueue<FakeCall> Calls { get; } = new();

    public ConcurrentQueue<string> PollAuthorizations { get; } = new();

    public int HealthStatus { get; set; } = 200;

    /// <summary>What /metrics serves; null: 404 (no load known).</summary>
    public string? MetricsText { get; set; }

    public Func<HttpContext, JsonObject, Task> Handler { get; set; }

    public static Task<FakeInstance> PrefillAsync(string id = "p") => StartAsync((ctx, body) => FakeAnswers.PrefillAsync(ctx, body, id));

    public static Task<FakeInstance> DecodeAsync() => StartAsync(FakeAnswers.DecodeAsync);

    public static async Task<FakeInstance> StartAsync(Func<HttpContext, JsonObject, Task> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        FakeInstance? self = null;
        app.MapGet("/health", ctx =>
        {
            self!.PollAuthorizations.Enqueue(ctx.Request.Headers.Authorization.ToString());
            ctx.Response.StatusCode = self.HealthStatus;
            return Task.CompletedTask;
        });
        app.MapGet("/metrics", async ctx =>
        {
            if (self!.MetricsText is not { } text)
            {
                ctx.Response.StatusCode = 404;
                return;
            }

            ctx.Response.ContentType = "text/plain; version=0.0.4";
            await ctx.Response.WriteAsync(text);
        });
        app.MapGet("/v1/models", ctx => ctx.Response.WriteAsync(FakeAnswers.ModelsJson));
        app.MapPost("/v1/{**route}", async ctx =>
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            var body = JsonNode.Parse(await reader.ReadToEndAsync())!.AsObject();
            self!.Calls.Enqueue(new FakeCall(ctx.Request.Path.Value!, body, ctx.Request.Headers.Authorization.ToString()));
            await self.Handler(ctx, body);
        });
        await app.StartAsync();
        self = new FakeInstance(app, handler);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
