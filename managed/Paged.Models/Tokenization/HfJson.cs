using System.Text.Json;

namespace Paged.Models.Tokenization;

/// <summary>Reads a JSON file for the tokenizer loaders: every failure is a ModelFormatException naming the file and the place.</summary>
internal static class HfJson
{
    public static JsonDocument Parse(string path)
    {
        if (!File.Exists(path))
        {
            throw ModelFormatException.For(path, "file not found");
        }

        byte[] bytes = File.ReadAllBytes(path);

        // JsonDocument checks strings' UTF-8 only when they are read; check it all here so a bad byte is a format error.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            throw ModelFormatException.For(path, $"not valid UTF-8 (at byte {FirstInvalidUtf8(bytes)})");
        }

        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e);
        }
    }

    private static int FirstInvalidUtf8(byte[] bytes)
    {
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes, new char[bytes.Length], out int read, out _, replaceInvalidSequences: false);
        return status == System.Buffers.OperationStatus.Done ? bytes.Length : read;
    }

    public static JsonElement? Optional(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement Required(string path, JsonElement obj, string name, string where) =>
        Optional(obj, name) ?? throw ModelFormatException.For(path, $"{where} has no \"{name}\"");

    public static string? String(string path, JsonElement obj, string name, string where) => Optional(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        var v => throw ModelFormatException.For(path, $"{where}.{name} should be a string but is {v.Value.ValueKind}"),
    };

    public static string RequiredString(string path, JsonElement obj, string name, string where) =>
        String(path, obj, name, where) ?? throw ModelFormatException.For(path, $"{where} has no \"{name}\"");

    public static bool? Bool(string path, JsonElement obj, string name, string where) => Optional(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        var v => throw ModelFormatException.For(path, $"{where}.{name} should be true or false but is {v.Value.ValueKind}"),
    };

    public static int RequiredInt(string path, JsonElement obj, string name, string where)
    {
        var v = Required(path, obj, name, where);
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
            : throw ModelFormatException.For(path, $"{where}.{name} should be a 32-bit integer but is {v}");
    }

    public static IEnumerable<JsonElement> Array(string path, JsonElement? value, string where) => value switch
    {
        null => [],
        { ValueKind: JsonValueKind.Array } v => v.EnumerateArray(),
        var v => throw ModelFormatException.For(path, $"{where} should be an array but is {v.Value.ValueKind}"),
    };
}
