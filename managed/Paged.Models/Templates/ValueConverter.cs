using System.Collections;
using System.Text.Json;

namespace Paged.Models.Templates;

/// <summary>Turns caller data (.NET primitives, collections, System.Text.Json elements) into template values.</summary>
public static class ValueConverter
{
    private const int MaxDepth = 64;

    /// <summary>Converts <paramref name="value"/>: strings, numbers, booleans, null, dictionaries with string keys,
    /// sequences and <see cref="JsonElement"/> are accepted; anything else is an error.</summary>
    public static object? From(object? value) => Convert(value, 0);

    private static object? Convert(object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new TemplateException($"template input nested deeper than {MaxDepth} levels");
        }

        switch (value)
        {
            case null or string or bool or long or double:
                return value;
            case int or short or byte or sbyte or ushort or uint:
                return System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            case float or decimal:
                return System.Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
            case JsonElement json:
                return FromJson(json, depth);
            case IDictionary dictionary:
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (DictionaryEntry e in dictionary)
                {
                    dict[e.Key as string ?? throw new TemplateException("template input dictionaries need string keys")] = Convert(e.Value, depth + 1);
                }

                return dict;
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                return pairs.ToDictionary(p => p.Key, p => Convert(p.Value, depth + 1), StringComparer.Ordinal);
            case IEnumerable sequence:
                var list = new List<object?>();
                foreach (object? item in sequence)
                {
                    list.Add(Convert(item, depth + 1));
                }

                return list;
            default:
                throw new TemplateException($"template input of type {value.GetType().Name} is not supported");
        }
    }

    private static object? FromJson(JsonElement json, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new TemplateException($"template input nested deeper than {MaxDepth} levels");
        }

        return json.ValueKind switch
        {
            JsonValueKind.String => json.GetString(),
            JsonValueKind.Number => json.TryGetInt64(out long l) ? (object)l : json.GetDouble(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            JsonValueKind.Array => json.EnumerateArray().Select(e => FromJson(e, depth + 1)).ToList(),
            JsonValueKind.Object => ObjectFromJson(json, depth),
            _ => null,
        };
    }

    private static Dictionary<string, object?> ObjectFromJson(JsonElement json, int depth)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (JsonProperty p in json.EnumerateObject())
        {
            dict[p.Name] = FromJson(p.Value, depth + 1);
        }

        return dict;
    }
}
