namespace Paged.Models.Templates;

/// <summary>Jinja's tests (x is defined, x is string, x is equalto y...).</summary>
internal static class Tests
{
    public static bool Apply(string name, object? value, CallArguments args, Renderer renderer)
    {
        object? Arg() => args.Get(0, "other", new Undefined($"argument of test '{name}'"));
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double or bool,
            "string" => value is string,
            "mapping" => value is Dictionary<string, object?>,
            "iterable" => value is string or List<object?> or object?[] or Dictionary<string, object?> or Undefined,
            "sequence" => value is string or List<object?> or object?[] or Dictionary<string, object?> or Undefined,
            "callable" => value is Callable,
            "sameas" => ReferenceEquals(value, Arg()) || (value is null or bool && Operations.PyEquals(value, Arg()) && Arg()?.GetType() == value?.GetType()),
            "equalto" or "eq" or "==" => Operations.PyEquals(value, Arg()),
            "ne" or "!=" => !Operations.PyEquals(value, Arg()),
            "lt" or "lessthan" or "<" => Operations.Compare(value, Arg(), "<") < 0,
            "le" or "<=" => Operations.Compare(value, Arg(), "<=") <= 0,
            "gt" or "greaterthan" or ">" => Operations.Compare(value, Arg(), ">") > 0,
            "ge" or ">=" => Operations.Compare(value, Arg(), ">=") >= 0,
            "in" => Operations.Contains(Arg(), value),
            "odd" => value is long o ? o % 2 != 0 : throw new TemplateException("odd: expected an int"),
            "even" => value is long e ? e % 2 == 0 : throw new TemplateException("even: expected an int"),
            "divisibleby" => value is long a && Arg() is long b && b != 0 ? a % b == 0 : throw new TemplateException("divisibleby: expected ints"),
            "lower" => PyFormat.Str(value) is var l && l.Any(char.IsLower) && !l.Any(char.IsUpper),
            "upper" => PyFormat.Str(value) is var u && u.Any(char.IsUpper) && !u.Any(char.IsLower),
            "escaped" => false,
            "filter" => Filters.Exists(PyFormat.Str(value)),
            "test" => PyFormat.Str(value) is "defined" or "undefined" or "none" or "string" or "mapping" or "number" or "integer" or "float",
            _ => throw new TemplateException($"no test named '{name}'"),
        };
    }
}
