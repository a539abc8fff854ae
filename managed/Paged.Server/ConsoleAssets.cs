using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace Paged.Server;

/// <summary>
/// The web console (GET / and /console/*): static files embedded in this assembly (Console/wwwroot), served
/// with a strict Content-Security-Policy so the page can reach nothing but this server. The API calls it makes
/// go through the ordinary /v1 routes (and their API key).
/// </summary>
internal static class ConsoleAssets
{
    private const string Policy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

    private static readonly ManifestEmbeddedFileProvider Files = new(typeof(ConsoleAssets).Assembly, "Console/wwwroot");
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    public static void Map(WebApplication app, Func<Func<HttpContext, Task>, RequestDelegate> guard)
    {
        app.MapGet("/", guard(ctx => ServeAsync(ctx, "index.html")));
        app.MapGet("/console/{**path}", guard(ctx => ServeAsync(ctx, (string?)ctx.Request.RouteValues["path"] ?? "")));
    }

    private static async Task ServeAsync(HttpContext ctx, string path)
    {
        var file = path.Contains("..", StringComparison.Ordinal) ? null : Files.GetFileInfo(path);
        if (file is not { Exists: true } || file.IsDirectory)
            throw new ApiException(404, $"no console file '{path}'", code: "not_found");
        if (!ContentTypes.TryGetContentType(file.Name, out string? type))
            type = "application/octet-stream";
        string etag = $"\"{file.LastModified.ToUnixTimeSeconds():x}-{file.Length:x}\"";
        var headers = ctx.Response.Headers;
        headers.ETag = etag;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = Policy;
        if (ctx.Request.Headers.IfNoneMatch == etag)
        {
            ctx.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        ctx.Response.ContentType = type.StartsWith("text/", StringComparison.Ordinal) || type.EndsWith("javascript", StringComparison.Ordinal)
            ? type + "; charset=utf-8"
            : type;
        ctx.Response.ContentLength = file.Length;
        await ctx.Response.SendFileAsync(file, ctx.RequestAborted).ConfigureAwait(false);
    }
}
