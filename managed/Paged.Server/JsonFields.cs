using System.Text.Json;

namespace Paged.Server;

/// <summary>
/// Typed reads of request fields: a missing or null field gives the fallback, a field of the wrong type or
/// out of range is a 400 naming it (unknown fields are never read, so they are ignored, as vLLM does).
/// </summary>
internal readonly struct JsonFields(JsonElement obj)
{
    public JsonElement Object => obj;

    public bool TryGet(string name, out JsonElement value)
    {
        if (obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
            return true;
        value = default;
        return false;
    }

    public string? String(string name)
    {
        if (!TryGet(name, out var v))
            return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw WrongType(name, "a string");
    }

    public bool Bool(string name, bool fallback)
    {
        if (!TryGet(name, out var v))
            return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, "a boolean"),
        };
    }

    public int? Int(string name, int min, int max)
    {
        if (!TryGet(name, out var v))
            return null;
        return ToInt(v, name, min, max);
    }

    public static int ToInt(JsonElement v, string name, int min, int max)
    {
        if (v.ValueKind != JsonValueKind.Number)
            throw WrongType(name, "an integer");
        if (!v.TryGetInt64(out long l))
        {
            // 2.0 is an integer to Python clients; 2.5 or 1e400 is not.
            if (!v.TryGetDouble(out double d) || !double.IsFinite(d) || d != Math.Floor(d) || Math.Abs(d) > long.MaxValue)
                throw WrongType(name, "an integer");
            l = (long)d;
        }

        if (l < min || l > max)
            throw ApiException.BadRequest($"'{name}' must be in [{min}, {max}] (got {l})", name);
        return (int)l;
    }

    public float? Float(string name, double min, double max)
    {
        if (!TryGet(name, out var v))
            return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw WrongType(name, "a finite number");
        if (d < min || d > max)
            throw ApiException.BadRequest($"'{name}' must be in [{min}, {max}] (got {d})", name);
        return (float)d;
    }

    public ulong? Seed(string name)
    {
        if (!TryGet(name, out var v))
            return null;
        if (v.ValueKind != JsonValueKind.Number)
            throw WrongType(name, "an integer");
        if (v.TryGetInt64(out long l))
            return unchecked((ulong)l);
        if (v.TryGetUInt64(out ulong u))
            return u;
        throw ApiException.BadRequest($"'{name}' must be a 64-bit integer", name);
    }

    /// <summary>A string or an array of strings (stop).</summary>
    public IReadOnlyList<string> StringOrStrings(string name, int maxCount)
    {
        if (!TryGet(name, out var v))
            return [];
        if (v.ValueKind == JsonValueKind.String)
            return [v.GetString()!];
        if (v.ValueKind != JsonValueKind.Array)
            throw WrongType(name, "a string or an array of strings");
        var list = new List<string>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw WrongType(name, "a string or an array of strings");
            list.Add(item.GetString()!);
        }

        return list.Count <= maxCount ? list : throw ApiException.BadRequest($"'{name}' has more than {maxCount} entries", name);
    }

    public IReadOnlyList<int> Ints(string name, int min, int max)
    {
        if (!TryGet(name, out var v))
            return [];
        if (v.ValueKind != JsonValueKind.Array)
            throw WrongType(name, "an array of integers");
        return [.. v.EnumerateArray().Select(e => ToInt(e, name, min, max))];
    }

    public JsonFields? ObjectField(string name)
    {
        if (!TryGet(name, out var v))
            return null;
        return v.ValueKind == JsonValueKind.Object ? new JsonFields(v) : throw WrongType(name, "an object");
    }

    public static ApiException WrongType(string name, string expected) => ApiException.BadRequest($"'{name}' must be {expected}", name);
}
