namespace Paged.Models.Templates;

/// <summary>
/// Template values are plain .NET objects standing for Python's: null (None), bool, long (int), double (float),
/// string, List&lt;object?&gt; (list), object?[] (tuple), Dictionary&lt;string, object?&gt; (dict, insertion
/// ordered), plus the types below. Inputs are converted once by <see cref="ValueConverter"/>.
/// </summary>
internal sealed class Undefined
{
    public Undefined(string description) => Description = description;

    /// <summary>What was missing, for the error raised when the value is used in a way Jinja forbids.</summary>
    public string Description { get; }

    public TemplateException Error() => new($"{Description} is undefined");
}

/// <summary>The object namespace(...) returns: the one value whose attributes a loop body may assign.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A callable: a global function, a macro, a bound method or a filter passed to map().</summary>
internal delegate object? TemplateFunction(List<object?> args, Dictionary<string, object?> kwargs);

internal sealed class Callable
{
    public Callable(string name, TemplateFunction function)
    {
        Name = name;
        Function = function;
    }

    public string Name { get; }

    public TemplateFunction Function { get; }
}

/// <summary>The loop variable of a for loop.</summary>
internal sealed class LoopContext
{
    private readonly List<object?> _items;

    public LoopContext(List<object?> items) => _items = items;

    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(_items.Count - Index0),
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < _items.Count - 1 ? _items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new Callable("loop.cycle", (args, _) => args.Count == 0
            ? throw new TemplateException("loop.cycle() needs at least one argument")
            : args[Index0 % args.Count]),
        _ => new Undefined($"loop attribute '{name}'"),
    };
}
