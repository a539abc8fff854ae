using System.Globalization;
using System.Text.Json;

namespace Paged.Models.Hf;

/// <summary>
/// A JSON object from a checkpoint directory (config.json, generation_config.json, an index) with typed getters that
/// report a wrong type as a <see cref="ModelFormatException"/> naming the file and the key. Absent and null read as null.
/// </summary>
public sealed class HfJson
{
    private readonly JsonElement _root;
    private readonly string _where;

    private HfJson(string path, string where, JsonElement root)
    {
        Path = path;
        _where = where;
        _root = root;
    }

    public string Path { get; }

    /// <summary>Parses <paramref name="path"/>, which must hold one JSON object.</summary>
    public static HfJson Load(string path)
    {
        if (!File.Exists(path))
            throw ModelFormatException.For(path, "file not found");
        return Parse(path, File.ReadAllBytes(path));
    }

    /// <summary>Parses <paramref name="utf8"/> (read from <paramref name="path"/>), which must hold one JSON object.</summary>
    public static HfJson Parse(string path, ReadOnlyMemory<byte> utf8)
    {
        try
        {
            using var doc = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw ModelFormatException.For(path, $"expected a JSON object, found {doc.RootElement.ValueKind}");
            return new HfJson(path, "", doc.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw ModelFormatException.For(path, $"invalid JSON: {e.Message}");
        }
    }

    public ModelFormatException Fail(string problem) => ModelFormatException.For(Path, _where + problem);

    public bool Has(string key) => Get(key) is not null;

    /// <summary>Names of the object's members, in file order.</summary>
    public IEnumerable<string> Keys => _root.EnumerateObject().Select(p => p.Name);

    public HfJson? GetSection(string key)
    {
        if (Get(key) is not { } e)
            return null;
        if (e.ValueKind != JsonValueKind.Object)
            throw Fail($"{key} is {e.ValueKind}; expected an object");
        return new HfJson(Path, $"{_where}{key}.", e);
    }

    public string? GetText(string key)
    {
        if (Get(key) is not { } e)
            return null;
        return e.ValueKind == JsonValueKind.String ? e.GetString() : throw Fail($"{key} is {e.ValueKind}; expected a string");
    }

    public bool? GetBool(string key)
    {
        if (Get(key) is not { } e)
            return null;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Fail($"{key} is {e.ValueKind}; expected true or false"),
        };
    }

    public long? GetLong(string key)
    {
        if (Get(key) is not { } e)
            return null;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) ? v : throw Fail($"{key} is {e.GetRawText()}; expected an integer");
    }

    public int? GetInt(string key)
    {
        long? v = GetLong(key);
        return v is null ? null : v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Fail($"{key} is {v}; out of range");
    }

    public int GetRequiredInt(string key) => GetInt(key) ?? throw Fail($"{key} is missing");

    public double? GetDouble(string key)
    {
        if (Get(key) is not { } e)
            return null;
        return e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw Fail($"{key} is {e.ValueKind}; expected a number");
    }

    public float? GetFloat(string key) => GetDouble(key) is { } d ? (float)d : null;

    /// <summary>An integer or a list of integers (eos_token_id) as a list; null when absent.</summary>
    public IReadOnlyList<int>? GetIntOrList(string key)
    {
        if (Get(key) is not { } e)
            return null;
        if (e.ValueKind == JsonValueKind.Number)
            return [GetInt(key)!.Value];
        if (e.ValueKind != JsonValueKind.Array)
            throw Fail($"{key} is {e.ValueKind}; expected an integer or a list of integers");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out int v)
            ? v : throw Fail($"{key} holds {x}; expected integers")).ToList();
    }

    public IReadOnlyList<string>? GetTextList(string key)
    {
        if (Get(key) is not { } e)
            return null;
        if (e.ValueKind != JsonValueKind.Array)
            throw Fail($"{key} is {e.ValueKind}; expected a list of strings");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Fail($"{key} holds {x}; expected strings")).ToList();
    }

    /// <summary>A string-to-string map (an index's weight_map).</summary>
    public IReadOnlyList<KeyValuePair<string, string>>? GetTextMap(string key)
    {
        if (GetSection(key) is not { } o)
            return null;
        return o._root.EnumerateObject().Select(p => p.Value.ValueKind == JsonValueKind.String
            ? KeyValuePair.Create(p.Name, p.Value.GetString()!)
            : throw Fail(string.Create(CultureInfo.InvariantCulture, $"{key}.{p.Name} is {p.Value.ValueKind}; expected a string"))).ToList();
    }

    private JsonElement? Get(string key) =>
        _root.TryGetProperty(key, out var e) && e.ValueKind != JsonValueKind.Null ? e : null;
}
