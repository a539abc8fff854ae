using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Paged.Server;

/// <summary>Server-sent events as OpenAI streams them: "data: JSON" events, ended by "data: [DONE]".</summary>
internal sealed class SseWriter(HttpResponse response)
{
    public bool Started { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        Started = true;
        await response.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task WriteAsync(JsonNode data, CancellationToken cancellationToken) => WriteRawAsync(data.ToJsonString(), cancellationToken);

    public Task DoneAsync(CancellationToken cancellationToken) => WriteRawAsync("[DONE]", cancellationToken);

    private async Task WriteRawAsync(string data, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes($"data: {data}\n\n"), cancellationToken).ConfigureAwait(false);
        await response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
