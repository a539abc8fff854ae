using System.Globalization;
using System.Text;

namespace Paged.Models.Templates;

/// <summary>
/// The tojson filter as transformers defines it: Python's json.dumps(x, ensure_ascii=False, indent=indent,
/// separators=separators, sort_keys=sort_keys), not Jinja's HTML-escaping builtin.
/// </summary>
internal static class PyJson
{
    public static string Dumps(object? value, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator, keySeparator, sortKeys, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, string? indent, string itemSep, string keySep, bool sortKeys, int level)
    {
        if (level > 100)
        {
            throw new TemplateException("tojson: value nested too deeply");
        }

        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyFormat.Float(d));
                break;
            case string s: WriteString(sb, s); break;
            case List<object?> list: WriteArray(sb, list, indent, itemSep, keySep, sortKeys, level); break;
            case object?[] tuple: WriteArray(sb, tuple, indent, itemSep, keySep, sortKeys, level); break;
            case Dictionary<string, object?> dict:
                IEnumerable<KeyValuePair<string, object?>> entries = sortKeys ? dict.OrderBy(e => e.Key, StringComparer.Ordinal) : dict;
                if (dict.Count == 0)
                {
                    sb.Append("{}");
                    break;
                }

                sb.Append('{');
                bool first = true;
                foreach (var (k, v) in entries)
                {
                    if (!first)
                    {
                        sb.Append(itemSep);
                    }

                    first = false;
                    NewLine(sb, indent, level + 1);
                    WriteString(sb, k);
                    sb.Append(keySep);
                    Write(sb, v, indent, itemSep, keySep, sortKeys, level + 1);
                }

                NewLine(sb, indent, level);
                sb.Append('}');
                break;
            case Undefined u: throw new TemplateException($"tojson: {u.Description} is undefined");
            default: throw new TemplateException($"tojson: object of type {Operations.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteArray(StringBuilder sb, IReadOnlyList<object?> items, string? indent, string itemSep, string keySep, bool sortKeys, int level)
    {
        if (items.Count == 0)
        {
            sb.Append("[]");
            return;
        }

        sb.Append('[');
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(itemSep);
            }

            NewLine(sb, indent, level + 1);
            Write(sb, items[i], indent, itemSep, keySep, sortKeys, level + 1);
        }

        NewLine(sb, indent, level);
        sb.Append(']');
    }

    private static void NewLine(StringBuilder sb, string? indent, int level)
    {
        if (indent is null)
        {
            return;
        }

        sb.Append('\n');
        for (int i = 0; i < level; i++)
        {
            sb.Append(indent);
        }
    }

    /// <summary>ensure_ascii=False: only the quote, the backslash and control characters are escaped.</summary>
    public static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case < ' ': sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"); break;
                default: sb.Append(c); break;
            }
        }

        sb.Append('"');
    }
}
