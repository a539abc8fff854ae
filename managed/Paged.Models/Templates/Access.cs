namespace Paged.Models.Templates;

/// <summary>
/// Jinja's attribute and item lookup under transformers' ImmutableSandboxedEnvironment: x.name tries the
/// attribute (a method) then the item; x[key] tries the item then the attribute; a miss is undefined;
/// methods that would mutate a value are refused.
/// </summary>
internal static class Access
{
    public static object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case Undefined u:
                throw new TemplateException($"{u.Description} is undefined (reading attribute '{name}')");
            case LoopContext loop:
                return loop.Get(name);
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out object? v) ? v : new Undefined($"namespace attribute '{name}'");
        }

        if (name.StartsWith('_'))
        {
            return new Undefined($"attribute '{name}'");
        }

        object? method = Methods.Bind(target, name);
        if (method is not null)
        {
            return method;
        }

        if (target is Dictionary<string, object?> dict && dict.TryGetValue(name, out object? value))
        {
            return value;
        }

        return new Undefined($"'{Operations.TypeName(target)} object' has no attribute '{name}'");
    }

    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case Undefined u:
                throw new TemplateException($"{u.Description} is undefined (reading item {PyFormat.Repr(key)})");
            case Dictionary<string, object?> dict when key is string k && dict.TryGetValue(k, out object? value):
                return value;
            case List<object?> list when key is long or bool:
                return Index(list, key, "list");
            case object?[] tuple when key is long or bool:
                return Index(tuple, key, "tuple");
            case string s when key is long or bool:
                return PyStrings.At(s, ToIndex(key)) ?? (object)new Undefined($"'str object' has no element {PyFormat.Repr(key)}");
        }

        if (key is string attribute)
        {
            return GetAttribute(target, attribute);
        }

        return new Undefined($"'{Operations.TypeName(target)} object' has no element {PyFormat.Repr(key)}");
    }

    private static long ToIndex(object? key) => key is bool b ? (b ? 1 : 0) : (long)key!;

    private static object? Index(IReadOnlyList<object?> items, object? key, string type)
    {
        long i = ToIndex(key);
        long at = i < 0 ? i + items.Count : i;
        return at >= 0 && at < items.Count ? items[(int)at] : new Undefined($"'{type} object' has no element {i}");
    }

    public static object? Slice(object? target, long? start, long? stop, long? step)
    {
        switch (target)
        {
            case string s:
                return PyStrings.Slice(s, start, stop, step);
            case List<object?> list:
                return PyStrings.SliceIndices(list.Count, start, stop, step).Select(i => list[i]).ToList();
            case object?[] tuple:
                return PyStrings.SliceIndices(tuple.Length, start, stop, step).Select(i => tuple[i]).ToArray();
            case Undefined u:
                throw u.Error();
            default:
                throw new TemplateException($"'{Operations.TypeName(target)}' object is not subscriptable");
        }
    }
}
