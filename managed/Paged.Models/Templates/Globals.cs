namespace Paged.Models.Templates;

/// <summary>Global functions: Jinja's range, namespace, dict and transformers' raise_exception and strftime_now.</summary>
internal static class Globals
{
    public static void AddTo(Frame frame, RenderBudget budget, Func<DateTime> now)
    {
        frame.Set("range", new Callable("range", (args, _) => Range(args, budget)));
        frame.Set("namespace", new Callable("namespace", (args, kwargs) =>
        {
            var ns = new Namespace();
            foreach (object? arg in args)
            {
                if (arg is not Dictionary<string, object?> initial)
                {
                    throw new TemplateException("namespace() takes a mapping or keyword arguments");
                }

                foreach (var (k, v) in initial)
                {
                    ns.Attributes[k] = v;
                }
            }

            foreach (var (k, v) in kwargs)
            {
                ns.Attributes[k] = v;
            }

            return ns;
        }));
        frame.Set("dict", new Callable("dict", (args, kwargs) =>
        {
            var dict = args.Count > 0 && args[0] is Dictionary<string, object?> initial ? new Dictionary<string, object?>(initial) : new(StringComparer.Ordinal);
            foreach (var (k, v) in kwargs)
            {
                dict[k] = v;
            }

            return dict;
        }));
        frame.Set("raise_exception", new Callable("raise_exception", (args, _) =>
            throw new TemplateException(PyFormat.Str(args.ElementAtOrDefault(0))) { RaisedByTemplate = true }));
        frame.Set("strftime_now", new Callable("strftime_now", (args, _) =>
            Strftime.Format(now(), args.ElementAtOrDefault(0) as string ?? throw new TemplateException("strftime_now(format) needs a format string"))));
    }

    private static List<object?> Range(List<object?> args, RenderBudget budget)
    {
        long[] n = args.Select(a => a is long l ? l : a is bool b ? (b ? 1 : 0) : throw new TemplateException($"range() takes integers, not {Operations.TypeName(a)}")).ToArray();
        (long start, long stop, long step) = n.Length switch
        {
            1 => (0L, n[0], 1L),
            2 => (n[0], n[1], 1L),
            3 => (n[0], n[1], n[2]),
            _ => throw new TemplateException("range() takes 1 to 3 arguments"),
        };
        if (step == 0)
        {
            throw new TemplateException("range() step must not be zero");
        }

        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        budget.CheckSize(count);
        var items = new List<object?>((int)count);
        for (long i = 0; i < count; i++)
        {
            items.Add(start + (i * step));
        }

        return items;
    }
}
