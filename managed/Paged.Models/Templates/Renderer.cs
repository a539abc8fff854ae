using System.Text;

namespace Paged.Models.Templates;

/// <summary>Executes statements: output, if, for (loop variable, filter, else, break/continue), set, macros.</summary>
internal sealed partial class Renderer
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    private readonly SourceText _source;

    public Renderer(SourceText source, RenderBudget budget)
    {
        _source = source;
        Budget = budget;
    }

    public RenderBudget Budget { get; }

    public string Render(Stmt[] body, Frame frame)
    {
        var output = new StringBuilder();
        Execute(body, frame, output);
        return output.ToString();
    }

    private Flow Execute(Stmt[] body, Frame frame, StringBuilder output)
    {
        foreach (Stmt stmt in body)
        {
            Budget.Step();
            Flow flow = ExecuteOne(stmt, frame, output);
            if (flow != Flow.Normal)
            {
                return flow;
            }
        }

        return Flow.Normal;
    }

    private Flow ExecuteOne(Stmt stmt, Frame frame, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt text:
                Append(output, text.Text);
                return Flow.Normal;
            case OutputStmt print:
                Append(output, PyFormat.Str(Evaluate(print.Value, frame)));
                return Flow.Normal;
            case IfStmt conditional:
                foreach (var (test, body) in conditional.Branches)
                {
                    if (Operations.Truthy(Evaluate(test, frame)))
                    {
                        return Execute(body, frame, output);
                    }
                }

                return Execute(conditional.Else, frame, output);
            case ForStmt loop:
                ExecuteFor(loop, frame, output);
                return Flow.Normal;
            case SetStmt set:
                Assign(set.Target, Evaluate(set.Value, frame), frame);
                return Flow.Normal;
            case SetBlockStmt setBlock:
                frame.Set(setBlock.Name, ApplyFilters(setBlock.Filters, RenderBlock(setBlock.Body, new Frame(frame)), frame));
                return Flow.Normal;
            case MacroStmt macro:
                frame.Set(macro.Name, DefineMacro(macro, frame));
                return Flow.Normal;
            case FilterBlockStmt filterBlock:
                Append(output, PyFormat.Str(ApplyFilters(filterBlock.Filters, RenderBlock(filterBlock.Body, frame), frame)));
                return Flow.Normal;
            case ScopeStmt scope:
                return Execute(scope.Body, frame, output);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new TemplateException($"unknown statement {stmt.GetType().Name}");
        }
    }

    private void Append(StringBuilder output, string text)
    {
        Budget.CheckSize(output.Length + (long)text.Length);
        output.Append(text);
    }

    private string RenderBlock(Stmt[] body, Frame frame)
    {
        var sb = new StringBuilder();
        Execute(body, frame, sb);
        return sb.ToString();
    }

    private object? ApplyFilters(FilterExpr[] filters, object? value, Frame frame)
    {
        foreach (FilterExpr f in filters)
        {
            value = Filters.Apply(f.Name, value, EvaluateArgs(f.Args, frame, f.Name), this);
        }

        return value;
    }

    private void ExecuteFor(ForStmt loop, Frame frame, StringBuilder output)
    {
        List<object?> items = Operations.Iterate(Evaluate(loop.Iterable, frame));
        if (loop.Filter is not null)
        {
            items = items.Where(item =>
            {
                Budget.Step();
                var test = new Frame(frame);
                Assign(loop.Target, item, test);
                return Operations.Truthy(Evaluate(loop.Filter, test));
            }).ToList();
        }
        else
        {
            items = [.. items];
        }

        if (items.Count == 0)
        {
            Execute(loop.Else, frame, output);
            return;
        }

        var context = new LoopContext(items);
        for (int i = 0; i < items.Count; i++)
        {
            Budget.Step();
            context.Index0 = i;
            var iteration = new Frame(frame);
            iteration.Set("loop", context);
            Assign(loop.Target, items[i], iteration);
            if (Execute(loop.Body, iteration, output) == Flow.Break)
            {
                break;
            }
        }
    }

    private void Assign(Target target, object? value, Frame frame)
    {
        switch (target)
        {
            case NameTarget name:
                frame.Set(name.Name, value);
                break;
            case TupleTarget tuple:
                if (value is string || value is Undefined)
                {
                    throw _source.Error(target.Offset, $"cannot unpack {Operations.TypeName(value)} into {tuple.Names.Length} names");
                }

                List<object?> parts = Operations.Iterate(value);
                if (parts.Count != tuple.Names.Length)
                {
                    throw _source.Error(target.Offset, $"expected {tuple.Names.Length} values to unpack, got {parts.Count}");
                }

                for (int i = 0; i < parts.Count; i++)
                {
                    frame.Set(tuple.Names[i], parts[i]);
                }

                break;
            case AttributeTarget attribute:
                if (!frame.TryLookup(attribute.Name, out object? holder) || holder is not Namespace ns)
                {
                    throw _source.Error(target.Offset, $"cannot assign attribute on non-namespace object '{attribute.Name}'");
                }

                ns.Attributes[attribute.Attribute] = value;
                break;
        }
    }

    private Callable DefineMacro(MacroStmt macro, Frame definedIn) => new(macro.Name, (args, kwargs) =>
    {
        if (Budget.CallDepth >= Budget.MaxCallDepth)
        {
            throw _source.Error(macro.Offset, $"macro calls nested deeper than {Budget.MaxCallDepth}");
        }

        if (args.Count > macro.Parameters.Length)
        {
            throw _source.Error(macro.Offset, $"macro '{macro.Name}' takes {macro.Parameters.Length} arguments, got {args.Count}");
        }

        var frame = new Frame(definedIn);
        for (int i = 0; i < macro.Parameters.Length; i++)
        {
            var (name, fallback) = macro.Parameters[i];
            object? value = i < args.Count ? args[i]
                : kwargs.TryGetValue(name, out object? named) ? named
                : fallback is not null ? Evaluate(fallback, frame)
                : new Undefined($"macro parameter '{name}'");
            frame.Set(name, value);
        }

        foreach (string key in kwargs.Keys)
        {
            if (!Array.Exists(macro.Parameters, p => p.Name == key))
            {
                throw _source.Error(macro.Offset, $"macro '{macro.Name}' has no parameter '{key}'");
            }
        }

        Budget.CallDepth++;
        try
        {
            return RenderBlock(macro.Body, frame);
        }
        finally
        {
            Budget.CallDepth--;
        }
    });
}
