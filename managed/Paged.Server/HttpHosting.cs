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

namespace Paged.Server;

/// <summary>What every HTTP front of Paged shares (<c>paged serve</c> and <c>paged router</c>): a Kestrel host bound
/// where asked with a body size limit, the API key check on /v1 routes, and failures turned into OpenAI-shaped errors.</summary>
internal static class HttpHosting
{
    /// <summary>A slim host listening on one address (an IP address or localhost) with the body size limit set.</summary>
    public static WebApplicationBuilder CreateBuilder(string host, int port, long maxBodyBytes)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = maxBodyBytes + 1;
            k.AddServerHeader = false;
            if (IPAddress.TryParse(host, out var address))
                k.Listen(address, port);
            else if (host == "localhost")
                k.ListenLocalhost(port);
            else
                throw new ArgumentException($"--host must be an IP address or localhost (got '{host}')");
        });
        return builder;
    }

    /// <summary>The port the started host is bound to (the chosen one when asked for port 0).</summary>
    public static int BoundPort(WebApplication app) =>
        new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;

    /// <summary>Every /v1 route needs "Authorization: Bearer KEY" (compared in constant time); 401 otherwise.</summary>
    public static Func<HttpContext, RequestDelegate, Task> RequireApiKey(string key)
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
    public static RequestDelegate Guard(Func<HttpContext, Task> handler) => async ctx =>
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
}
