using System.Text.Json;
using System.Text.Json.Nodes;

namespace Paged.Server.Tools;

/// <summary>An assistant message's <c>tool_calls</c> as chat templates expect them.</summary>
internal static class ToolCallMessages
{
    /// <summary>
    /// OpenAI sends <c>function.arguments</c> as a JSON string; HF chat templates (Llama 3, Qwen, Hermes) render it
    /// with <c>| tojson</c> or iterate it, so it becomes the object it encodes (as vLLM does). A string that is not
    /// JSON stays a string.
    /// </summary>
    public static JsonElement ForTemplate(JsonElement toolCalls, string param)
    {
        if (toolCalls.ValueKind != JsonValueKind.Array)
            throw JsonFields.WrongType(param, "an array of tool calls");
        var calls = JsonNode.Parse(toolCalls.GetRawText())!.AsArray();
        foreach (var call in calls)
        {
            if (call is not JsonObject o || o["function"] is not JsonObject function)
                throw ApiException.BadRequest($"each of '{param}' must be an object with a 'function'", param);
            if (function["arguments"] is JsonValue v && v.TryGetValue(out string? text))
            {
                try
                {
                    function["arguments"] = JsonNode.Parse(text);
                }
                catch (JsonException)
                {
                    // Not JSON: the template gets the text as it came.
                }
            }
        }

        using var doc = JsonDocument.Parse(calls.ToJsonString());
        return doc.RootElement.Clone();
    }
}
