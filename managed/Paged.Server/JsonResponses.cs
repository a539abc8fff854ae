using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Paged.Server;

internal static class JsonResponses
{
    public static async Task WriteAsync(HttpResponse response, int status, JsonNode body, CancellationToken cancellationToken)
    {
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(body.ToJsonString()), cancellationToken).ConfigureAwait(false);
    }

    public static Task WriteErrorAsync(HttpResponse response, ApiException e, CancellationToken cancellationToken)
    {
        if (e.RetryAfterSeconds is int seconds)
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteAsync(response, e.Status, e.ToJson(), cancellationToken);
    }
}
