using Microsoft.AspNetCore.Http;

namespace Paged.Server.Router;

/// <summary>
/// Copies an instance's answer to the client unchanged. A JSON answer is read whole first, so an instance that
/// fails mid-body becomes a clean 502. An event stream is passed on event by event (each complete "...\n\n"
/// as it arrives, so the client never holds half an event); if the instance fails after the stream began, the
/// client gets an SSE error object and [DONE], as <c>paged serve</c> ends a failed stream, and nothing is retried.
/// </summary>
internal static class ResponseRelay
{
    private static readonly string[] CopiedHeaders = ["Retry-After", "X-Request-Id"];

    /// <summary>Relays <paramref name="upstream"/>; <paramref name="streamFailed"/> is told when the instance failed mid-stream.</summary>
    public static async Task RelayAsync(HttpContext ctx, UpstreamInstance instance, HttpResponseMessage upstream, Action streamFailed, CancellationToken cancellationToken)
    {
        if (upstream.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            await RelayWholeAsync(ctx, instance, upstream, cancellationToken).ConfigureAwait(false);
            return;
        }

        CopyHead(ctx.Response, upstream);
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        await ctx.Response.StartAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var body = await upstream.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
                await CopyEventsAsync(body, ctx.Response.Body, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            streamFailed();
            var sse = new SseWriter(ctx.Response);
            var error = new ApiException(502, $"the instance {instance.Name} failed while streaming: {e.Message}", type: "server_error", code: "upstream_error");
            await sse.WriteAsync(error.ToJson(), cancellationToken).ConfigureAwait(false);
            await sse.DoneAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Relays a whole (non-streamed) answer; an instance failing before its end is a 502 (nothing was sent yet).</summary>
    public static async Task RelayWholeAsync(HttpContext ctx, UpstreamInstance instance, HttpResponseMessage upstream, CancellationToken cancellationToken)
    {
        byte[] body;
        try
        {
            body = await upstream.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new ApiException(502, $"the instance {instance.Name} failed while answering: {e.Message}", type: "server_error", code: "upstream_error");
        }

        CopyHead(ctx.Response, upstream);
        ctx.Response.ContentLength = body.Length;
        await ctx.Response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    private static void CopyHead(HttpResponse response, HttpResponseMessage upstream)
    {
        response.StatusCode = (int)upstream.StatusCode;
        if (upstream.Content.Headers.ContentType is { } type)
            response.ContentType = type.ToString();
        foreach (string name in CopiedHeaders)
        {
            if (upstream.Headers.TryGetValues(name, out var values))
                response.Headers[name] = values.ToArray();
        }
    }

    /// <summary>Copies whole events ("\n\n"-terminated) as they complete; a clean end passes on whatever remains.</summary>
    internal static async Task CopyEventsAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[16 * 1024];
        int filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
                Array.Resize(ref buffer, buffer.Length * 2); // one event larger than the buffer
            int read = await from.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
                break;
            filled += read;
            int end = buffer.AsSpan(0, filled).LastIndexOf("\n\n"u8);
            if (end < 0)
                continue;
            int complete = end + 2;
            await to.WriteAsync(buffer.AsMemory(0, complete), cancellationToken).ConfigureAwait(false);
            await to.FlushAsync(cancellationToken).ConfigureAwait(false);
            buffer.AsSpan(complete, filled - complete).CopyTo(buffer);
            filled -= complete;
        }

        if (filled > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
            await to.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
