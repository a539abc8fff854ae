using System.Text;
using System.Text.RegularExpressions;

namespace Paged.Models.Templates;

/// <summary>The Jinja filters chat templates use, with Jinja's semantics (tojson is transformers' version).</summary>
internal static partial class Filters
{
    public static object? Apply(string name, object? value, CallArguments args, Renderer renderer) => name switch
    {
        "trim" => PyStrings.Strip(PyFormat.Str(value), args.OptString(0, "chars")),
        "tojson" => ToJson(value, args),
        "length" or "count" => Operations.Length(value),
        "upper" => PyFormat.Str(value).ToUpperInvariant(),
        "lower" => PyFormat.Str(value).ToLowerInvariant(),
        "capitalize" => Methods.Capitalize(PyFormat.Str(value)),
        "title" => Title(PyFormat.Str(value)),
        "replace" => Methods.Replace(PyFormat.Str(value), PyFormat.Str(args.Get(0, "old")), PyFormat.Str(args.Get(1, "new")),
            args.Get(2, "count") is long n ? n : -1),
        "default" or "d" => value is Undefined || (args.Bool(1, "boolean", false) && !Operations.Truthy(value)) ? args.Get(0, "default_value", "") : value,
        "first" => First(Operations.Iterate(value)),
        "last" => Last(value),
        "join" => Join(value, args, renderer),
        "list" => new List<object?>(Operations.Iterate(value)),
        "items" => Items(value),
        "string" => PyFormat.Str(value),
        "int" => ToInt(value, args),
        "float" => ToFloat(value, args),
        "abs" => value is long l ? (object)Math.Abs(l) : Math.Abs(Operations.ToDouble(value)),
        "round" => Round(value, args),
        "reverse" => value is string s ? PyStrings.Slice(s, null, null, -1) : Enumerable.Reverse(Operations.Iterate(value)).ToList(),
        "unique" => Unique(value, args),
        "sort" => Sort(value, args),
        "dictsort" => DictSort(value, args),
        "map" => Map(value, args, renderer),
        "select" or "reject" => Select(value, args, renderer, name == "select", attribute: false),
        "selectattr" or "rejectattr" => Select(value, args, renderer, name == "selectattr", attribute: true),
        "min" or "max" => MinMax(value, name == "min"),
        "sum" => Sum(value, args, renderer.Budget),
        "indent" => Indent(PyFormat.Str(value), args),
        "safe" => value,
        "escape" or "e" => Escape(PyFormat.Str(value)),
        "attr" => Access.GetAttribute(value, PyFormat.Str(args.Get(0, "name"))),
        "wordcount" => (long)PyStrings.Split(PyFormat.Str(value), null, -1).Count,
        "batch" => Batch(value, args),
        _ => throw new TemplateException($"no filter named '{name}'"),
    };

    public static bool Exists(string name) => name is "trim" or "tojson" or "length" or "count" or "upper" or "lower" or "capitalize"
        or "title" or "replace" or "default" or "d" or "first" or "last" or "join" or "list" or "items" or "string" or "int" or "float"
        or "abs" or "round" or "reverse" or "unique" or "sort" or "dictsort" or "map" or "select" or "reject" or "selectattr"
        or "rejectattr" or "min" or "max" or "sum" or "indent" or "safe" or "escape" or "e" or "attr" or "wordcount" or "batch";

    private static string ToJson(object? value, CallArguments args)
    {
        string? indent = args.Get(0, "indent") switch
        {
            null or Undefined => null,
            long n => new string(' ', (int)Math.Clamp(n, 0, 64)),
            string s => s,
            var other => throw new TemplateException($"tojson: indent must be an int or a string, not {Operations.TypeName(other)}"),
        };
        string itemSeparator = indent is null ? ", " : ",";
        string keySeparator = ": ";
        if (args.Get(2, "separators") is object?[] or List<object?> && Operations.Iterate(args.Get(2, "separators")) is [string item, string key])
        {
            itemSeparator = item;
            keySeparator = key;
        }

        return PyJson.Dumps(value, indent, itemSeparator, keySeparator, args.Bool(3, "sort_keys", false));
    }

    private static object? First(List<object?> items) => items.Count > 0 ? items[0] : Missing("first item of an empty sequence");

    private static object? Last(object? value)
    {
        List<object?> items = Operations.Iterate(value);
        return items.Count > 0 ? items[items.Count - 1] : Missing("last item of an empty sequence");
    }

    private static Undefined Missing(string description) => new(description);

    private static string Join(object? value, CallArguments args, Renderer renderer)
    {
        string separator = PyFormat.Str(args.Get(0, "d", ""));
        string? attribute = args.OptString(1, "attribute");
        var sb = new StringBuilder();
        bool first = true;
        foreach (object? item in Operations.Iterate(value))
        {
            sb.Append(first ? "" : separator).Append(PyFormat.Str(attribute is null ? item : Access.GetItem(item, attribute)));
            first = false;
            renderer.Budget.CheckSize(sb.Length);
        }

        return sb.ToString();
    }

    private static List<object?> Items(object? value) => value switch
    {
        Undefined => [],
        Dictionary<string, object?> dict => dict.Select(e => (object?)new object?[] { e.Key, e.Value }).ToList(),
        _ => throw new TemplateException($"items: can only get item pairs from a mapping, not {Operations.TypeName(value)}"),
    };

    private static object? ToInt(object? value, CallArguments args)
    {
        object? fallback = args.Get(0, "default", 0L);
        switch (value)
        {
            case long or bool:
                return value is bool b ? (b ? 1L : 0L) : value;
            case double d:
                return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = PyStrings.Strip(s, null).Replace("_", "", StringComparison.Ordinal);
                long numberBase = args.Get(1, "base") is long nb ? nb : 10;
                try
                {
                    return Convert.ToInt64(t, (int)numberBase);
                }
                catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
                {
                    return double.TryParse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double parsed)
                        && double.IsFinite(parsed) ? (long)Math.Truncate(parsed) : fallback;
                }

            default:
                return fallback;
        }
    }

    private static object? ToFloat(object? value, CallArguments args) => value switch
    {
        long or double or bool => Operations.ToDouble(value),
        string s when double.TryParse(PyStrings.Strip(s, null), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) => d,
        _ => args.Get(0, "default", 0.0),
    };

    private static double Round(object? value, CallArguments args)
    {
        long precision = args.Get(0, "precision") is long p ? p : 0;
        string method = args.OptString(1, "method") ?? "common";
        double x = Operations.ToDouble(value);
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(x, (int)Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new TemplateException("round: method must be 'common', 'ceil' or 'floor'"),
        };
    }

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    /// <summary>Jinja's title filter: each word starts upper case, the rest lower case.</summary>
    private static string Title(string s) => string.Concat(
        WordBeginning().Split(s).Where(item => item.Length > 0).Select(item => char.ToUpperInvariant(item[0]) + item[1..].ToLowerInvariant()));

    private static string Indent(string s, CallArguments args)
    {
        string pad = args.Get(0, "width", 4L) is long width ? new string(' ', (int)Math.Clamp(width, 0, 256)) : PyFormat.Str(args.Get(0, "width"));
        bool first = args.Bool(1, "first", false);
        bool blank = args.Bool(2, "blank", false);
        string[] lines = s.Split('\n');
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            if (i > 0)
            {
                sb.Append('\n');
            }

            bool indentThis = (i > 0 || first) && (blank || lines[i].Length > 0 && !lines[i].All(PyStrings.IsWhitespace));
            sb.Append(indentThis ? pad : "").Append(lines[i]);
        }

        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal).Replace("'", "&#39;", StringComparison.Ordinal);
}
