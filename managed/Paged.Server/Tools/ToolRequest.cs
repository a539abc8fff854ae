using System.Text.Json;

namespace Paged.Server.Tools;

/// <summary>
/// A chat request's <c>tools</c> and <c>tool_choice</c>: which tools the chat template sees and how the output is
/// read. <c>none</c> (the default without tools) renders no tools and parses nothing; <c>auto</c> (the default with
/// tools), <c>required</c> and a named function render the tools and parse the output with the server's
/// <c>--tool-call-parser</c>. Paged has no constrained decoding, so <c>required</c> and a named function are asked
/// of the model through the prompt, not enforced.
/// </summary>
internal sealed record ToolRequest(ToolCallFormat Format, IReadOnlyList<object?>? Tools)
{
    public static readonly ToolRequest NoTools = new(ToolCallFormat.None, null);

    public static ToolRequest Parse(JsonFields body, ToolCallFormat serverFormat)
    {
        List<object?>? tools = null;
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (body.TryGet("tools", out var toolsJson) && toolsJson.ValueKind != JsonValueKind.Null)
        {
            if (toolsJson.ValueKind != JsonValueKind.Array)
                throw JsonFields.WrongType("tools", "an array");
            tools = [];
            int i = 0;
            foreach (var t in toolsJson.EnumerateArray())
            {
                names.Add(FunctionName(t, $"tools[{i++}]"));
                tools.Add(t);
            }
        }

        string choice = "none";
        string? named = null;
        if (body.TryGet("tool_choice", out var c) && c.ValueKind != JsonValueKind.Null)
        {
            if (c.ValueKind == JsonValueKind.String && c.GetString() is "none" or "auto" or "required")
                choice = c.GetString()!;
            else if (c.ValueKind == JsonValueKind.Object)
                (choice, named) = ("named", FunctionName(c, "tool_choice"));
            else
                throw ApiException.BadRequest("'tool_choice' must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
        }
        else if (tools is { Count: > 0 })
        {
            choice = "auto";
        }

        if (choice == "none")
            return NoTools;
        if (tools is not { Count: > 0 })
            throw ApiException.BadRequest($"tool_choice \"{choice}\" needs a non-empty 'tools'", "tool_choice");
        if (named is not null && !names.Contains(named))
            throw ApiException.BadRequest($"tool_choice names the function '{named}', which is not among 'tools'", "tool_choice");
        if (serverFormat == ToolCallFormat.None)
            throw ApiException.BadRequest($"tool_choice \"{choice}\" needs a server started with --tool-call-parser (hermes or llama3_json)", "tool_choice");
        return new ToolRequest(serverFormat, tools);
    }

    /// <summary>{"type": "function", "function": {"name": NAME, ...}}: NAME.</summary>
    private static string FunctionName(JsonElement tool, string param)
    {
        if (tool.ValueKind != JsonValueKind.Object)
            throw JsonFields.WrongType(param, "an object");
        var f = new JsonFields(tool);
        if (f.String("type") is { } type && type != "function")
            throw ApiException.BadRequest($"'{param}.type' must be \"function\" (got \"{type}\")", $"{param}.type");
        var function = f.ObjectField("function") ?? throw ApiException.BadRequest($"'{param}.function' is required", $"{param}.function");
        return function.String("name") is { Length: > 0 } name ? name : throw ApiException.BadRequest($"'{param}.function.name' is required", $"{param}.function.name");
    }
}
