using System.Text.Json;

namespace Paged.Server.Tools;

/// <summary>How model output is read for tool calls (<c>paged serve --tool-call-parser</c>, as vLLM names them).</summary>
public enum ToolCallFormat
{
    /// <summary>No parsing: output is always content.</summary>
    None,

    /// <summary>Hermes / Qwen: <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>, any number, after optional text.</summary>
    Hermes,

    /// <summary>Llama 3.x JSON: the whole output is <c>{"name": ..., "parameters": {...}}</c> (calls separated by ';'),
    /// optionally after <c>&lt;|python_tag|&gt;</c>.</summary>
    Llama3Json,
}

/// <summary>One function call read from model output; <see cref="Arguments"/> is JSON text, as OpenAI returns it.</summary>
public sealed record ParsedToolCall(string Name, string Arguments);

/// <summary>
/// Reads complete model output into content and tool calls. Output that looks like a call but is not valid
/// (bad JSON, no name) is returned as content, so nothing the model wrote is lost.
/// </summary>
public static class ToolCallParsing
{
    /// <summary>The format a <c>--tool-call-parser</c> name selects (vLLM's names: hermes, llama3_json, none).</summary>
    public static ToolCallFormat FromName(string? name) => name?.ToUpperInvariant() switch
    {
        null or "" or "NONE" => ToolCallFormat.None,
        "HERMES" => ToolCallFormat.Hermes,
        "LLAMA3_JSON" => ToolCallFormat.Llama3Json,
        _ => throw new ArgumentException($"--tool-call-parser must be hermes, llama3_json or none (got '{name}')"),
    };

    public const string HermesOpen = "<tool_call>";
    public const string HermesClose = "</tool_call>";
    public const string PythonTag = "<|python_tag|>";

    /// <summary>Content (null when only whitespace remains) and the calls, in order: the streaming parser run over the whole text,
    /// so streamed and non-streamed responses agree.</summary>
    public static (string? Content, IReadOnlyList<ParsedToolCall> Calls) Parse(ToolCallFormat format, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new ToolCallStreamParser(format);
        return Collect(parser.Feed(text).Concat(parser.Finish()));
    }

    /// <summary>Streamed pieces joined: content (null when calls leave only blanks) and the calls.</summary>
    public static (string? Content, IReadOnlyList<ParsedToolCall> Calls) Collect(IEnumerable<ToolCallPiece> pieces)
    {
        ArgumentNullException.ThrowIfNull(pieces);
        var content = new System.Text.StringBuilder();
        var calls = new List<ParsedToolCall>();
        foreach (var piece in pieces)
        {
            if (piece.Call is { } call)
                calls.Add(call);
            else
                content.Append(piece.Content);
        }

        string all = content.ToString();
        return (calls.Count > 0 && string.IsNullOrWhiteSpace(all) ? null : all, calls);
    }

    /// <summary>One Hermes block body (between the tags) as a call; null when it is not one.</summary>
    internal static ParsedToolCall? HermesCall(string body) => Call(body, "arguments");

    /// <summary>The whole output as one or more ';'-separated JSON calls (Llama 3 style); null when it is anything else.</summary>
    internal static List<ParsedToolCall>? Llama3Calls(string text)
    {
        string rest = StripPythonTag(text).Trim();
        if (!rest.StartsWith('{'))
            return null;
        var calls = new List<ParsedToolCall>();
        var bytes = System.Text.Encoding.UTF8.GetBytes(rest);
        int offset = 0;
        while (offset < bytes.Length)
        {
            var reader = new Utf8JsonReader(bytes.AsSpan(offset));
            try
            {
                using var doc = JsonDocument.ParseValue(ref reader);
                if (Call(doc.RootElement, "parameters") is not { } call)
                    return null;
                calls.Add(call);
            }
            catch (JsonException)
            {
                return null;
            }

            offset = SkipBlanks(bytes, offset + (int)reader.BytesConsumed);
            if (offset < bytes.Length)
            {
                if (bytes[offset] != (byte)';')
                    return null;
                offset = SkipBlanks(bytes, offset + 1);
            }
        }

        return calls;
    }

    private static int SkipBlanks(byte[] bytes, int offset)
    {
        while (offset < bytes.Length && bytes[offset] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
            offset++;
        return offset;
    }

    internal static string StripPythonTag(string text)
    {
        string trimmed = text.TrimStart();
        return trimmed.StartsWith(PythonTag, StringComparison.Ordinal) ? trimmed[PythonTag.Length..] : text;
    }

    private static ParsedToolCall? Call(string json, string argumentsField)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Call(doc.RootElement, argumentsField);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>{"name": string, "arguments"|"parameters": object or JSON string}; arguments default to {}.</summary>
    private static ParsedToolCall? Call(JsonElement e, string argumentsField)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString() is not { Length: > 0 } n)
            return null;
        if (!e.TryGetProperty(argumentsField, out var args) && !e.TryGetProperty(argumentsField == "arguments" ? "parameters" : "arguments", out args))
            return new ParsedToolCall(n, "{}");
        return args.ValueKind switch
        {
            JsonValueKind.Object => new ParsedToolCall(n, args.GetRawText()),
            JsonValueKind.String when IsJsonObject(args.GetString()!) => new ParsedToolCall(n, args.GetString()!),
            JsonValueKind.Null => new ParsedToolCall(n, "{}"),
            _ => null,
        };
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
