namespace Paged.Models.Templates;

/// <summary>Python's binary arithmetic on template values (+ also concatenates strings, lists and tuples).</summary>
internal static class Arithmetic
{
    public static object? Apply(string op, object? a, object? b, RenderBudget budget)
    {
        if (a is Undefined ua)
        {
            throw ua.Error();
        }

        if (b is Undefined ub)
        {
            throw ub.Error();
        }

        if (Operations.IsNumber(a) && Operations.IsNumber(b))
        {
            return a is double || b is double ? Float(op, Operations.ToDouble(a), Operations.ToDouble(b)) : Integer(op, ToLong(a), ToLong(b));
        }

        switch (op, a, b)
        {
            case ("+", string x, string y):
                budget.CheckSize(x.Length + (long)y.Length);
                return x + y;
            case ("+", List<object?> x, List<object?> y):
                budget.CheckSize(x.Count + (long)y.Count);
                return new List<object?>(x.Concat(y));
            case ("+", object?[] x, object?[] y):
                return x.Concat(y).ToArray();
            case ("*", string s, long n):
                return Repeat(s, n, budget);
            case ("*", long n, string s):
                return Repeat(s, n, budget);
            case ("*", List<object?> list, long n):
                budget.CheckSize(list.Count * Math.Max(n, 0));
                return Enumerable.Range(0, (int)Math.Max(n, 0)).SelectMany(_ => list).ToList();
            default:
                throw new TemplateException($"unsupported operand types for {op}: '{Operations.TypeName(a)}' and '{Operations.TypeName(b)}'");
        }
    }

    private static long ToLong(object? value) => value is bool b ? (b ? 1 : 0) : (long)value!;

    private static string Repeat(string s, long n, RenderBudget budget)
    {
        if (n <= 0)
        {
            return "";
        }

        budget.CheckSize(s.Length * n);
        return string.Concat(Enumerable.Repeat(s, (int)n));
    }

    private static object Integer(string op, long x, long y)
    {
        try
        {
            checked
            {
                switch (op)
                {
                    case "+": return x + y;
                    case "-": return x - y;
                    case "*": return x * y;
                    case "/": return y == 0 ? throw DivisionByZero() : (double)x / y;
                    case "//": return y == 0 ? throw DivisionByZero() : FloorDiv(x, y);
                    case "%": return y == 0 ? throw DivisionByZero() : x - (FloorDiv(x, y) * y);
                    case "**":
                        if (y < 0)
                        {
                            return Math.Pow(x, y);
                        }

                        long result = 1;
                        for (long i = 0; i < y; i++)
                        {
                            result *= x;
                        }

                        return result;
                    default: throw new TemplateException($"unknown operator {op}");
                }
            }
        }
        catch (OverflowException)
        {
            return Float(op, x, y);
        }
    }

    private static long FloorDiv(long x, long y)
    {
        long q = x / y;
        return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static double Float(string op, double x, double y) => op switch
    {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" => y == 0 ? throw DivisionByZero() : x / y,
        "//" => y == 0 ? throw DivisionByZero() : Math.Floor(x / y),
        "%" => y == 0 ? throw DivisionByZero() : x - (Math.Floor(x / y) * y),
        "**" => Math.Pow(x, y),
        _ => throw new TemplateException($"unknown operator {op}"),
    };

    private static TemplateException DivisionByZero() => new("division by zero");
}
