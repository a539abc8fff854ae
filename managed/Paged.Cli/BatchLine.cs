using System.Text.Json;
using Paged.Server;

namespace Paged.Cli;

/// <summary>Why a batch input line never reached an endpoint (OpenAI's batch error codes where it has one).</summary>
internal sealed record BatchLineError(string Code, string Message);

/// <summary>
/// One line of an OpenAI batch input file: {"custom_id", "method": "POST", "url", "body"}. A line that cannot be
/// run carries its <see cref="Error"/> (and its custom_id when it has a usable one); the body itself is checked by
/// the endpoint, as the server checks it.
/// </summary>
internal sealed record BatchLine(int LineNumber, string? CustomId, string Url, JsonElement Body, BatchLineError? Error)
{
    private const int MaxDepth = 64;

    /// <summary>Parses line <paramref name="lineNumber"/> (1-based); <paramref name="seenIds"/> collects custom_ids to refuse repeats.</summary>
    public static BatchLine Parse(string text, int lineNumber, HashSet<string> seenIds)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = MaxDepth });
            root = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return Failed(lineNumber, null, "invalid_json", $"line {lineNumber} is not valid JSON: {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
            return Failed(lineNumber, null, "invalid_request", $"line {lineNumber} must be a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}");

        string? customId = root.TryGetProperty("custom_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
        if (string.IsNullOrEmpty(customId))
            return Failed(lineNumber, null, "missing_custom_id", $"line {lineNumber} has no 'custom_id' (a non-empty string)");
        if (!seenIds.Add(customId))
            return Failed(lineNumber, customId, "duplicate_custom_id", $"line {lineNumber} repeats the custom_id '{customId}' of an earlier line; custom_ids must be unique");

        string? method = root.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        if (method != "POST")
            return Failed(lineNumber, customId, "invalid_method", $"'method' must be \"POST\" (got {Describe(root, "method")})");

        string? url = root.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
        if (url is null || !LocalApi.Routes.Contains(url))
            return Failed(lineNumber, customId, "invalid_url", $"'url' must be {string.Join(" or ", LocalApi.Routes)} (got {Describe(root, "url")})");

        if (!root.TryGetProperty("body", out var body) || body.ValueKind != JsonValueKind.Object)
            return Failed(lineNumber, customId, "invalid_body", $"'body' must be a JSON object (got {Describe(root, "body")})");

        return new BatchLine(lineNumber, customId, url, body, null);
    }

    private static BatchLine Failed(int lineNumber, string? customId, string code, string message) =>
        new(lineNumber, customId, "", default, new BatchLineError(code, message));

    private static string Describe(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v))
            return "nothing";
        string raw = v.GetRawText();
        return raw.Length <= 80 ? raw : raw[..80] + "...";
    }
}
