using System.Text.Json.Nodes;

namespace Paged.Server.Tools;

/// <summary>Tool calls in OpenAI's response shapes: message.tool_calls, and streamed delta.tool_calls.</summary>
internal static class ToolCallJson
{
    public static string NewId() => $"call_{Guid.NewGuid():N}"[..29];

    /// <summary>{"id", "type": "function", "function": {"name", "arguments"}} for a non-streamed message.</summary>
    public static JsonArray Message(IEnumerable<ParsedToolCall> calls) =>
        [.. calls.Select(c => (JsonNode?)new JsonObject
        {
            ["id"] = NewId(),
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments },
        })];

    /// <summary>A call's first streamed delta: its index, id, type and name, with empty arguments (as OpenAI streams).</summary>
    public static JsonObject Header(int index, ParsedToolCall call) => new()
    {
        ["index"] = index,
        ["id"] = NewId(),
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = call.Name, ["arguments"] = "" },
    };

    /// <summary>A later streamed delta of a call: an argument fragment.</summary>
    public static JsonObject Arguments(int index, string fragment) => new()
    {
        ["index"] = index,
        ["function"] = new JsonObject { ["arguments"] = fragment },
    };
}
