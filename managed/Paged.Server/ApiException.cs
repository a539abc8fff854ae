using System.Text.Json.Nodes;

namespace Paged.Server;

/// <summary>
/// A request the server answers with an OpenAI-shaped error: {"error": {"message", "type", "param", "code"}}.
/// Thrown anywhere while handling a request; the endpoint turns it into the response (or an SSE error event
/// once streaming began).
/// </summary>
public sealed class ApiException : Exception
{
    public ApiException(int status, string message, string? param = null, string? type = null, string? code = null)
        : base(message)
    {
        Status = status;
        Param = param;
        Type = type ?? DefaultType(status);
        Code = code;
    }

    public ApiException()
        : this(500, "internal error")
    {
    }

    public ApiException(string message)
        : this(400, message)
    {
    }

    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 400;
        Type = DefaultType(400);
    }

    public int Status { get; }

    public string? Param { get; }

    public string Type { get; }

    public string? Code { get; }

    /// <summary>Seconds for a Retry-After header (429/503), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, param);

    private static string DefaultType(int status) => status switch
    {
        400 or 413 => "invalid_request_error",
        401 => "authentication_error",
        404 => "not_found_error",
        408 => "timeout_error",
        429 => "rate_limit_error",
        503 => "service_unavailable",
        _ => "server_error",
    };

    public JsonObject ToJson() => ErrorBody(Message, Type, Param, Code ?? Status.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static JsonObject ErrorBody(string message, string type, string? param, string? code) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = type,
            ["param"] = param,
            ["code"] = code,
        },
    };
}
