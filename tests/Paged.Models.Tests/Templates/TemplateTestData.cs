using System.Text.Json;
using Paged.Models.Templates;

namespace Paged.Models.Tests.Templates;

/// <summary>The reference renders in Templates/Data (written by tools/chat_template_reference.py with python3-jinja2).</summary>
internal static class TemplateTestData
{
    public static readonly DateTime FixedNow = new(2024, 7, 26, 9, 5, 3);

    public static string Dir => Path.Combine(AppContext.BaseDirectory, "Templates", "Data");

    public static IEnumerable<JsonElement> ExpectedRows() =>
        File.ReadLines(Path.Combine(Dir, "expected.jsonl")).Select(line => JsonDocument.Parse(line).RootElement);

    public static Dictionary<string, JsonElement> Conversations() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "conversations.json"))).RootElement.EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!);

    public static ChatMessage Message(JsonElement json)
    {
        var fields = new Dictionary<string, object?>();
        foreach (JsonProperty p in json.EnumerateObject())
        {
            if (p.Name is not "role" and not "content")
            {
                fields[p.Name] = p.Value;
            }
        }

        return new ChatMessage(json.GetProperty("role").GetString()!, json.GetProperty("content"), fields);
    }

    public static ChatTemplateContext Context(JsonElement conversation) => new()
    {
        BosToken = "<|bos|>",
        EosToken = "<|eos|>",
        Now = () => FixedNow,
        Tools = conversation.TryGetProperty("tools", out JsonElement tools) ? tools.EnumerateArray().Select(t => (object?)t).ToList() : null,
        Variables = conversation.TryGetProperty("extra", out JsonElement extra)
            ? extra.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value)
            : null,
    };

    /// <summary>Compares one render with its reference row; returns a description of the mismatch or null.</summary>
    public static string? Compare(JsonElement expected, Func<string> render)
    {
        string actual;
        try
        {
            actual = render();
        }
        catch (TemplateException e)
        {
            if (!expected.TryGetProperty("error", out JsonElement kind))
            {
                return $"threw '{e.Message}' but the reference rendered {JsonSerializer.Serialize(expected.GetProperty("output").GetString())}";
            }

            bool raised = kind.GetString() == "raised";
            if (raised != e.RaisedByTemplate)
            {
                return $"threw '{e.Message}' (raised by template: {e.RaisedByTemplate}) but the reference failed with {kind}: {expected.GetProperty("message")}";
            }

            return raised && e.Message != expected.GetProperty("message").GetString()
                ? $"raised '{e.Message}', reference raised '{expected.GetProperty("message")}'"
                : null;
        }

        if (expected.TryGetProperty("error", out JsonElement error))
        {
            return $"rendered {JsonSerializer.Serialize(actual)} but the reference failed with {error}: {expected.GetProperty("message")}";
        }

        string want = expected.GetProperty("output").GetString()!;
        return actual == want ? null : $"rendered\n{JsonSerializer.Serialize(actual)}\nreference\n{JsonSerializer.Serialize(want)}";
    }
}
