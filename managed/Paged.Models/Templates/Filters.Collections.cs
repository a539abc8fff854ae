namespace Paged.Models.Templates;

/// <summary>Filters over sequences: map, select/reject(attr), sort, unique, min/max, sum, batch.</summary>
internal static partial class Filters
{
    private static List<object?> Map(object? value, CallArguments args, Renderer renderer)
    {
        List<object?> items = Operations.Iterate(value);
        if (args.Positional.Count == 0 && args.Keyword.TryGetValue("attribute", out object? attributeValue))
        {
            string attribute = PyFormat.Str(attributeValue);
            bool hasDefault = args.Keyword.TryGetValue("default", out object? fallback);
            return items.Select(item =>
            {
                object? v = AttributePath(item, attribute);
                return v is Undefined && hasDefault ? fallback : v;
            }).ToList();
        }

        if (args.Positional.Count == 0 || args.Positional[0] is not string filter)
        {
            throw new TemplateException("map: expects a filter name or attribute=");
        }

        var rest = new CallArguments(args.Positional.Skip(1).ToList(), args.Keyword, filter);
        return items.Select(item => Apply(filter, item, rest, renderer)).ToList();
    }

    private static List<object?> Select(object? value, CallArguments args, Renderer renderer, bool keep, bool attribute)
    {
        List<object?> items = Operations.Iterate(value);
        int next = 0;
        string? path = null;
        if (attribute)
        {
            path = PyFormat.Str(args.Get(0, "attribute"));
            next = 1;
        }

        string? test = next < args.Positional.Count ? PyFormat.Str(args.Positional[next]) : null;
        var testArgs = new CallArguments(args.Positional.Skip(next + 1).ToList(), [], test ?? "");
        return items.Where(item =>
        {
            object? subject = path is null ? item : AttributePath(item, path);
            bool passed = test is null ? Operations.Truthy(subject) : Tests.Apply(test, subject, testArgs, renderer);
            return passed == keep;
        }).ToList();
    }

    /// <summary>Jinja's make_attrgetter: "a.b" follows items/attributes, digits index sequences.</summary>
    private static object? AttributePath(object? item, string path)
    {
        object? current = item;
        foreach (string part in path.Split('.'))
        {
            current = long.TryParse(part, out long index) ? Access.GetItem(current, index) : Access.GetItem(current, part);
            if (current is Undefined)
            {
                break;
            }
        }

        return current;
    }

    private static List<object?> Unique(object? value, CallArguments args)
    {
        bool caseSensitive = args.Bool(0, "case_sensitive", false);
        string? attribute = args.OptString(1, "attribute");
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (object? item in Operations.Iterate(value))
        {
            object? key = SortKey(attribute is null ? item : AttributePath(item, attribute), caseSensitive);
            if (!seen.Exists(s => Operations.PyEquals(s, key)))
            {
                seen.Add(key);
                result.Add(item);
            }
        }

        return result;
    }

    private static object? SortKey(object? value, bool caseSensitive) => !caseSensitive && value is string s ? s.ToLowerInvariant() : value;

    private static List<object?> Sort(object? value, CallArguments args)
    {
        bool reverse = args.Bool(0, "reverse", false);
        bool caseSensitive = args.Bool(1, "case_sensitive", false);
        string? attribute = args.OptString(2, "attribute");
        var items = new List<object?>(Operations.Iterate(value));
        Comparison<object?> compare = (a, b) => Operations.Compare(
            SortKey(attribute is null ? a : AttributePath(a, attribute), caseSensitive),
            SortKey(attribute is null ? b : AttributePath(b, attribute), caseSensitive), "<");
        StableSort(items, reverse ? (a, b) => compare(b, a) : compare);
        return items;
    }

    private static void StableSort(List<object?> items, Comparison<object?> compare)
    {
        var indexed = items.Select((item, i) => (item, i)).ToList();
        indexed.Sort((x, y) =>
        {
            int c = compare(x.item, y.item);
            return c != 0 ? c : x.i.CompareTo(y.i);
        });
        for (int i = 0; i < items.Count; i++)
        {
            items[i] = indexed[i].item;
        }
    }

    private static List<object?> DictSort(object? value, CallArguments args)
    {
        if (value is not Dictionary<string, object?> dict)
        {
            throw new TemplateException($"dictsort: expected a mapping, not {Operations.TypeName(value)}");
        }

        bool caseSensitive = args.Bool(0, "case_sensitive", false);
        string by = args.OptString(1, "by") ?? "key";
        bool reverse = args.Bool(2, "reverse", false);
        var pairs = dict.Select(e => (object?)new object?[] { e.Key, e.Value }).ToList();
        int position = by == "value" ? 1 : 0;
        Comparison<object?> compare = (a, b) => Operations.Compare(
            SortKey(((object?[])a!)[position], caseSensitive), SortKey(((object?[])b!)[position], caseSensitive), "<");
        StableSort(pairs, reverse ? (a, b) => compare(b, a) : compare);
        return pairs;
    }

    private static object? MinMax(object? value, bool min)
    {
        List<object?> items = Operations.Iterate(value);
        if (items.Count == 0)
        {
            return new Undefined($"{(min ? "min" : "max")} of an empty sequence");
        }

        object? best = items[0];
        foreach (object? item in items.Skip(1))
        {
            int c = Operations.Compare(SortKey(item, false), SortKey(best, false), "<");
            if (min ? c < 0 : c > 0)
            {
                best = item;
            }
        }

        return best;
    }

    private static object? Sum(object? value, CallArguments args, RenderBudget budget)
    {
        string? attribute = args.OptString(0, "attribute");
        object? total = args.Get(1, "start", 0L);
        foreach (object? item in Operations.Iterate(value))
        {
            total = Arithmetic.Apply("+", total, attribute is null ? item : AttributePath(item, attribute), budget);
        }

        return total;
    }

    private static List<object?> Batch(object? value, CallArguments args)
    {
        long size = args.Get(0, "linecount") is long n && n > 0 ? n : throw new TemplateException("batch: linecount must be a positive int");
        var batches = new List<object?>();
        List<object?>? current = null;
        foreach (object? item in Operations.Iterate(value))
        {
            if (current is null || current.Count == size)
            {
                current = [];
                batches.Add(current);
            }

            current.Add(item);
        }

        return batches;
    }
}
