namespace Paged.Models.Templates;

/// <summary>Evaluates expressions to template values.</summary>
internal sealed partial class Renderer
{
    public object? Evaluate(Expr expr, Frame frame)
    {
        try
        {
            return EvaluateCore(expr, frame);
        }
        catch (TemplateException e) when (e.Line == 0 && !e.RaisedByTemplate)
        {
            // Attach the position of the innermost failing expression once.
            TemplateException located = _source.Error(expr.Offset, e.Message);
            throw located;
        }
    }

    private object? EvaluateCore(Expr expr, Frame frame)
    {
        switch (expr)
        {
            case LiteralExpr literal:
                return literal.Value;
            case NameExpr name:
                return frame.TryLookup(name.Name, out object? value) ? value : new Undefined($"'{name.Name}'");
            case ListExpr list:
                return list.Items.Select(i => Evaluate(i, frame)).ToList();
            case TupleExpr tuple:
                return tuple.Items.Select(i => Evaluate(i, frame)).ToArray();
            case DictExpr dict:
                var result = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in dict.Entries)
                {
                    object? key = Evaluate(k, frame);
                    result[key as string ?? throw new TemplateException($"dictionary keys must be strings, not {Operations.TypeName(key)}")] = Evaluate(v, frame);
                }

                return result;
            case GetAttrExpr attr:
                return Access.GetAttribute(Evaluate(attr.Target, frame), attr.Name);
            case GetItemExpr item when item.Index is SliceExpr slice:
                return Access.Slice(Evaluate(item.Target, frame), SliceBound(slice.Start, frame), SliceBound(slice.Stop, frame), SliceBound(slice.Step, frame));
            case GetItemExpr item:
                return Access.GetItem(Evaluate(item.Target, frame), Evaluate(item.Index, frame));
            case CallExpr call:
                return Call(Evaluate(call.Target, frame), EvaluateArgs(call.Args, frame, "call"));
            case FilterExpr filter:
                return Filters.Apply(filter.Name, Evaluate(filter.Target, frame), EvaluateArgs(filter.Args, frame, filter.Name), this);
            case TestExpr test:
                return Tests.Apply(test.Name, Evaluate(test.Target, frame), EvaluateArgs(test.Args, frame, test.Name), this);
            case UnaryExpr unary:
                return Unary(unary.Op, Evaluate(unary.Operand, frame));
            case BinaryExpr binary:
                return Binary(binary, frame);
            case CompareExpr compare:
                return Compare(compare, frame);
            case CondExpr conditional:
                return Operations.Truthy(Evaluate(conditional.Test, frame))
                    ? Evaluate(conditional.Then, frame)
                    : conditional.Else is null ? new Undefined("the else branch of a conditional expression") : Evaluate(conditional.Else, frame);
            case SliceExpr:
                throw new TemplateException("a slice is only valid inside []");
            default:
                throw new TemplateException($"unknown expression {expr.GetType().Name}");
        }
    }

    private long? SliceBound(Expr? bound, Frame frame) => bound is null ? null : Evaluate(bound, frame) switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        var other => throw new TemplateException($"slice indices must be integers or None, not {Operations.TypeName(other)}"),
    };

    private CallArguments EvaluateArgs(CallArgs args, Frame frame, string callee)
    {
        var positional = args.Positional.Select(a => Evaluate(a, frame)).ToList();
        var keyword = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in args.Keyword)
        {
            keyword[name] = Evaluate(value, frame);
        }

        return new CallArguments(positional, keyword, callee);
    }

    private static object? Call(object? callee, CallArguments args) => callee switch
    {
        Callable c => c.Function(args.Positional, args.Keyword),
        Undefined u => throw new TemplateException($"{u.Description} is undefined and cannot be called"),
        _ => throw new TemplateException($"'{Operations.TypeName(callee)}' object is not callable"),
    };

    private static object? Unary(string op, object? operand)
    {
        if (op == "not")
        {
            return !Operations.Truthy(operand);
        }

        return operand switch
        {
            long l => (object)(op == "-" ? -l : l),
            double d => (object)(op == "-" ? -d : d),
            bool b => (object)(op == "-" ? -(b ? 1L : 0L) : (b ? 1L : 0L)),
            Undefined u => throw u.Error(),
            _ => throw new TemplateException($"bad operand type for unary {op}: '{Operations.TypeName(operand)}'"),
        };
    }

    private object? Binary(BinaryExpr binary, Frame frame)
    {
        object? left = Evaluate(binary.Left, frame);
        switch (binary.Op)
        {
            case "and":
                return Operations.Truthy(left) ? Evaluate(binary.Right, frame) : left;
            case "or":
                return Operations.Truthy(left) ? left : Evaluate(binary.Right, frame);
            case "~":
                string l = PyFormat.Str(left);
                string r = PyFormat.Str(Evaluate(binary.Right, frame));
                Budget.CheckSize(l.Length + (long)r.Length);
                return l + r;
            default:
                return Arithmetic.Apply(binary.Op, left, Evaluate(binary.Right, frame), Budget);
        }
    }

    private bool Compare(CompareExpr compare, Frame frame)
    {
        object? left = Evaluate(compare.First, frame);
        foreach (var (op, operand) in compare.Rest)
        {
            object? right = Evaluate(operand, frame);
            bool holds = op switch
            {
                "==" => Operations.PyEquals(left, right),
                "!=" => !Operations.PyEquals(left, right),
                "<" => Operations.Compare(left, right, op) < 0,
                "<=" => Operations.Compare(left, right, op) <= 0,
                ">" => Operations.Compare(left, right, op) > 0,
                ">=" => Operations.Compare(left, right, op) >= 0,
                "in" => Operations.Contains(right, left),
                "notin" => !Operations.Contains(right, left),
                _ => throw new TemplateException($"unknown comparison {op}"),
            };
            if (!holds)
            {
                return false;
            }

            left = right;
        }

        return true;
    }
}
