namespace Paged.Models.Templates;

/// <summary>The methods of str, dict and list that templates call (.strip(), .split(), .get(), .items()...).</summary>
internal static class Methods
{
    private static readonly HashSet<string> Mutators =
    [
        "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update", "setdefault", "popitem",
    ];

    /// <summary>A bound method of <paramref name="target"/> named <paramref name="name"/>, or null when it has none.</summary>
    public static Callable? Bind(object? target, string name)
    {
        if (target is List<object?> or Dictionary<string, object?> && Mutators.Contains(name))
        {
            return new Callable(name, (_, _) => throw new TemplateException(
                $"access to attribute '{name}' of '{Operations.TypeName(target)}' object is unsafe (templates cannot modify values)"));
        }

        TemplateFunction? function = target switch
        {
            string s => StringMethod(s, name),
            Dictionary<string, object?> d => DictMethod(d, name),
            List<object?> l => ListMethod(l, name),
            _ => null,
        };
        return function is null ? null : new Callable(name, function);
    }

    private static TemplateFunction? StringMethod(string s, string name) => name switch
    {
        "strip" => (a, _) => PyStrings.Strip(s, OptString(a, 0)),
        "lstrip" => (a, _) => PyStrings.LStrip(s, OptString(a, 0)),
        "rstrip" => (a, _) => PyStrings.RStrip(s, OptString(a, 0)),
        "split" => (a, k) => PyStrings.Split(s, OptString(a, 0, k, "sep"), OptLong(a, 1, k, "maxsplit") ?? -1),
        "rsplit" => (a, k) => PyStrings.RSplit(s, OptString(a, 0, k, "sep"), OptLong(a, 1, k, "maxsplit") ?? -1),
        "splitlines" => (_, _) => SplitLines(s),
        "startswith" => (a, _) => Affixes(a, "startswith").Any(p => s.StartsWith(p, StringComparison.Ordinal)),
        "endswith" => (a, _) => Affixes(a, "endswith").Any(p => s.EndsWith(p, StringComparison.Ordinal)),
        "upper" => (_, _) => s.ToUpperInvariant(),
        "lower" => (_, _) => s.ToLowerInvariant(),
        "title" => (_, _) => Title(s),
        "capitalize" => (_, _) => Capitalize(s),
        "replace" => (a, _) => Replace(s, Str(a, 0, "replace"), Str(a, 1, "replace"), OptLong(a, 2) ?? -1),
        "find" => (a, _) => (long)s.IndexOf(Str(a, 0, "find"), StringComparison.Ordinal),
        "rfind" => (a, _) => (long)s.LastIndexOf(Str(a, 0, "rfind"), StringComparison.Ordinal),
        "count" => (a, _) => CountOccurrences(s, Str(a, 0, "count")),
        "join" => (a, _) => string.Join(s, Operations.Iterate(a.ElementAtOrDefault(0)).Select(x => x as string
            ?? throw new TemplateException($"join(): expected str items, got {Operations.TypeName(x)}"))),
        "isdigit" => (_, _) => s.Length > 0 && s.All(char.IsDigit),
        "isalpha" => (_, _) => s.Length > 0 && s.All(char.IsLetter),
        "isalnum" => (_, _) => s.Length > 0 && s.All(char.IsLetterOrDigit),
        "isspace" => (_, _) => s.Length > 0 && s.All(PyStrings.IsWhitespace),
        "islower" => (_, _) => s.Any(char.IsLower) && !s.Any(char.IsUpper),
        "isupper" => (_, _) => s.Any(char.IsUpper) && !s.Any(char.IsLower),
        _ => null,
    };

    private static TemplateFunction? DictMethod(Dictionary<string, object?> d, string name) => name switch
    {
        "get" => (a, _) => a.Count > 0 && a[0] is string key && d.TryGetValue(key, out object? v) ? v : a.ElementAtOrDefault(1),
        "items" => (_, _) => d.Select(e => (object?)new object?[] { e.Key, e.Value }).ToList(),
        "keys" => (_, _) => d.Keys.Select(k => (object?)k).ToList(),
        "values" => (_, _) => d.Values.ToList(),
        "copy" => (_, _) => new Dictionary<string, object?>(d),
        _ => null,
    };

    private static TemplateFunction? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => (a, _) =>
        {
            int i = l.FindIndex(x => Operations.PyEquals(x, a.ElementAtOrDefault(0)));
            return i >= 0 ? (long)i : throw new TemplateException($"{PyFormat.Repr(a.ElementAtOrDefault(0))} is not in list");
        },
        "count" => (a, _) => (long)l.Count(x => Operations.PyEquals(x, a.ElementAtOrDefault(0))),
        "copy" => (_, _) => new List<object?>(l),
        _ => null,
    };

    private static List<object?> SplitLines(string s)
    {
        var lines = new List<object?>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is '\n' or '\r')
            {
                lines.Add(s[start..i]);
                if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n')
                {
                    i++;
                }

                start = i + 1;
            }
        }

        if (start < s.Length)
        {
            lines.Add(s[start..]);
        }

        return lines;
    }

    public static string Title(string s)
    {
        var chars = s.ToCharArray();
        bool previousCased = false;
        for (int i = 0; i < chars.Length; i++)
        {
            char c = chars[i];
            bool cased = char.IsUpper(c) || char.IsLower(c);
            if (cased)
            {
                chars[i] = previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c);
            }

            previousCased = cased;
        }

        return new string(chars);
    }

    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0)
        {
            return old.Length == 0 ? string.Join(replacement, ["", .. s.Select(c => c.ToString()), ""]) : s.Replace(old, replacement, StringComparison.Ordinal);
        }

        var sb = new System.Text.StringBuilder();
        int from = 0;
        for (long n = 0; n < count; n++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0 || old.Length == 0)
            {
                break;
            }

            sb.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }

        return sb.Append(s, from, s.Length - from).ToString();
    }

    private static long CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0)
        {
            return PyStrings.Length(s) + 1;
        }

        long n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    private static IEnumerable<string> Affixes(List<object?> args, string method) => args.ElementAtOrDefault(0) switch
    {
        string s => [s],
        object?[] tuple => tuple.Select(x => x as string ?? throw new TemplateException($"{method}(): tuple items must be str")),
        var other => throw new TemplateException($"{method}() argument must be str or a tuple of str, not {Operations.TypeName(other)}"),
    };

    private static string Str(List<object?> args, int index, string method) =>
        args.ElementAtOrDefault(index) as string ?? throw new TemplateException($"{method}(): argument {index + 1} must be str");

    private static string? OptString(List<object?> args, int index, Dictionary<string, object?>? kwargs = null, string? name = null)
    {
        object? value = index < args.Count ? args[index] : name is not null && kwargs is not null && kwargs.TryGetValue(name, out object? v) ? v : null;
        return value switch
        {
            null or Undefined => null,
            string s => s,
            _ => throw new TemplateException($"expected str or None, got {Operations.TypeName(value)}"),
        };
    }

    private static long? OptLong(List<object?> args, int index, Dictionary<string, object?>? kwargs = null, string? name = null)
    {
        object? value = index < args.Count ? args[index] : name is not null && kwargs is not null && kwargs.TryGetValue(name, out object? v) ? v : null;
        return value switch
        {
            null or Undefined => null,
            long l => l,
            _ => throw new TemplateException($"expected int, got {Operations.TypeName(value)}"),
        };
    }
}
