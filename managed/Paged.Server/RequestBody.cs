using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Paged.Server;

/// <summary>Reads a JSON request body within the size limit; malformed input (bad UTF-8, bad JSON, nesting
/// deeper than 64) is a 400, an oversized body a 413.</summary>
internal static class RequestBody
{
    private const int MaxDepth = 64;

    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            // The unread rest of the body makes Kestrel drop the connection after the answer: say so, or the client reuses it.
            request.HttpContext.Response.Headers.Connection = "close";
            throw TooLarge(maxBytes);
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        while (true)
        {
            int read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0)
                break;
            if (buffer.Length + read > maxBytes)
                throw TooLarge(maxBytes);
            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
            throw ApiException.BadRequest("the request body is empty; expected a JSON object");
        try
        {
            using var doc = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), new JsonDocumentOptions { MaxDepth = MaxDepth });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest($"the request body must be a JSON object, not {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the request body is not valid JSON: {e.Message}");
        }
    }

    private static ApiException TooLarge(long maxBytes) =>
        new(413, $"the request body exceeds the limit of {maxBytes} bytes", type: "invalid_request_error", code: "request_too_large");
}
