using System.Text.Json.Nodes;
using Paged.Server;

namespace Paged.Cli;

/// <summary>
/// Lines of a batch output file in OpenAI's format: {"id", "custom_id", "response": {"status_code", "request_id",
/// "body"}, "error"}. "error" is null exactly when the line succeeded; a line that never reached an endpoint has
/// "response": null; a request an endpoint refused has the status and the OpenAI error body the server would send.
/// Every error object carries "code", "message" and the input "line" (1-based).
/// </summary>
internal static class BatchOutput
{
    public static JsonObject FromResult(BatchLine line, LocalApiResult result)
    {
        JsonObject? error = null;
        if (result.StatusCode != 200)
        {
            var e = result.Body["error"] as JsonObject;
            error = Error(e?["code"]?.ToString() ?? result.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture),
                e?["message"]?.ToString() ?? "the request failed", line.LineNumber);
        }

        return Line(line.CustomId, new JsonObject
        {
            ["status_code"] = result.StatusCode,
            ["request_id"] = $"req_{Guid.NewGuid():N}",
            ["body"] = result.Body,
        }, error);
    }

    public static JsonObject FromLineError(BatchLine line) =>
        Line(line.CustomId, null, Error(line.Error!.Code, line.Error.Message, line.LineNumber));

    /// <summary>A line the batch was interrupted (Ctrl+C, SIGTERM) before it finished.</summary>
    public static JsonObject Cancelled(BatchLine line) =>
        Line(line.CustomId, null, Error("cancelled", "the batch was interrupted (Ctrl+C or SIGTERM) before this request finished", line.LineNumber));

    private static JsonObject Line(string? customId, JsonObject? response, JsonObject? error) => new()
    {
        ["id"] = $"batch_req_{Guid.NewGuid():N}",
        ["custom_id"] = customId,
        ["response"] = response,
        ["error"] = error,
    };

    private static JsonObject Error(string code, string message, int line) => new()
    {
        ["code"] = code,
        ["message"] = message,
        ["line"] = line,
    };
}
