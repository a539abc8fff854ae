using System.Globalization;

namespace Paged.Models.Templates;

/// <summary>Expressions, with Jinja's precedence: conditional, or, and, not, comparisons, + -, ~, * / // %, **,
/// unary - +, then primary with postfix (attribute, subscript, call) and filters / tests.</summary>
internal sealed partial class Parser
{
    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", ">", "<=", ">="];

    private Expr ParseExpression(bool withCondExpr)
    {
        EnterNesting();
        Expr result = withCondExpr ? ParseCondExpr() : ParseOr();
        _depth--;
        return result;
    }

    private Expr ParseCondExpr()
    {
        Expr expr = ParseOr();
        while (Current.IsName("if"))
        {
            int offset = Advance().Offset;
            Expr test = ParseOr();
            Expr? otherwise = null;
            if (Current.IsName("else"))
            {
                Advance();
                otherwise = ParseCondExpr();
            }

            expr = new CondExpr(offset, test, expr, otherwise);
        }

        return expr;
    }

    private Expr ParseOr()
    {
        Expr left = ParseAnd();
        while (Current.IsName("or"))
        {
            int offset = Advance().Offset;
            left = new BinaryExpr(offset, "or", left, ParseAnd());
        }

        return left;
    }

    private Expr ParseAnd()
    {
        Expr left = ParseNot();
        while (Current.IsName("and"))
        {
            int offset = Advance().Offset;
            left = new BinaryExpr(offset, "and", left, ParseNot());
        }

        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            int offset = Advance().Offset;
            EnterNesting();
            Expr operand = ParseNot();
            _depth--;
            return new UnaryExpr(offset, "not", operand);
        }

        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int offset = Current.Offset;
        Expr first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Value))
            {
                string op = Advance().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (Current.IsName("in"))
            {
                Advance();
                rest.Add(("in", ParseMath1()));
            }
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                Advance();
                Advance();
                rest.Add(("notin", ParseMath1()));
            }
            else
            {
                break;
            }
        }

        return rest.Count == 0 ? first : new CompareExpr(offset, first, [.. rest]);
    }

    private Expr ParseMath1()
    {
        Expr left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            Token op = Advance();
            left = new BinaryExpr(op.Offset, op.Value, left, ParseConcat());
        }

        return left;
    }

    private Expr ParseConcat()
    {
        Expr left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            Token op = Advance();
            left = new BinaryExpr(op.Offset, "~", left, ParseMath2());
        }

        return left;
    }

    private Expr ParseMath2()
    {
        Expr left = ParsePow();
        while (Current.IsOperator("*") || Current.IsOperator("/") || Current.IsOperator("//") || Current.IsOperator("%"))
        {
            Token op = Advance();
            left = new BinaryExpr(op.Offset, op.Value, left, ParsePow());
        }

        return left;
    }

    private Expr ParsePow()
    {
        Expr left = ParseUnary(withFilter: true);
        while (Current.IsOperator("**"))
        {
            Token op = Advance();
            left = new BinaryExpr(op.Offset, "**", left, ParseUnary(withFilter: true));
        }

        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        EnterNesting();
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            Token op = Advance();
            node = new UnaryExpr(op.Offset, op.Value, ParseUnary(withFilter: false));
        }
        else
        {
            node = ParsePrimary();
        }

        node = ParsePostfix(node);
        if (withFilter)
        {
            node = ParseFilterExpr(node);
        }

        _depth--;
        return node;
    }

    private Expr ParsePrimary()
    {
        Token t = Current;
        switch (t.Kind)
        {
            case TokenKind.Name:
                Advance();
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(t.Offset, true),
                    "false" or "False" => new LiteralExpr(t.Offset, false),
                    "none" or "None" => new LiteralExpr(t.Offset, null),
                    _ => new NameExpr(t.Offset, t.Value),
                };
            case TokenKind.String:
                string text = Advance().Value;
                while (Current.Kind == TokenKind.String)
                {
                    text += Advance().Value;
                }

                return new LiteralExpr(t.Offset, text);
            case TokenKind.Integer:
                Advance();
                return long.TryParse(t.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long integer)
                    ? new LiteralExpr(t.Offset, integer)
                    : throw Fail($"integer literal {t.Value} is too large", t);
            case TokenKind.Float:
                Advance();
                return new LiteralExpr(t.Offset, double.Parse(t.Value, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Operator when t.Value == "(":
                Advance();
                Expr inner = ParseTuple(withCondExpr: true, explicitParentheses: true);
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when t.Value == "[":
                return ParseList();
            case TokenKind.Operator when t.Value == "{":
                return ParseDict();
            default:
                throw Fail($"unexpected {Describe(t)}");
        }
    }

    /// <summary>Jinja's parse_tuple: one expression, or a tuple when commas separate several.</summary>
    private Expr ParseTuple(bool withCondExpr, bool explicitParentheses, string? extraEnd = null)
    {
        int offset = Current.Offset;
        var items = new List<Expr>();
        bool isTuple = false;
        while (true)
        {
            if (items.Count > 0)
            {
                ExpectOperator(",");
            }

            if (IsTupleEnd(extraEnd))
            {
                break;
            }

            items.Add(ParseExpression(withCondExpr));
            if (Current.IsOperator(","))
            {
                isTuple = true;
            }
            else
            {
                break;
            }
        }

        if (!isTuple)
        {
            if (items.Count > 0)
            {
                return items[0];
            }

            if (!explicitParentheses)
            {
                throw Fail($"expected an expression, got {Describe(Current)}");
            }
        }

        return new TupleExpr(offset, [.. items]);
    }

    private bool IsTupleEnd(string? extraEnd) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.Eof
        || Current.IsOperator(")")
        || (extraEnd is not null && Current.IsName(extraEnd));

    private ListExpr ParseList()
    {
        int offset = ExpectOperator("[").Offset;
        var items = new List<Expr>();
        while (!Current.IsOperator("]"))
        {
            if (items.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator("]"))
                {
                    break;
                }
            }

            items.Add(ParseExpression(withCondExpr: true));
        }

        Advance();
        return new ListExpr(offset, [.. items]);
    }

    private DictExpr ParseDict()
    {
        int offset = ExpectOperator("{").Offset;
        var entries = new List<(Expr, Expr)>();
        while (!Current.IsOperator("}"))
        {
            if (entries.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator("}"))
                {
                    break;
                }
            }

            Expr key = ParseExpression(withCondExpr: true);
            ExpectOperator(":");
            entries.Add((key, ParseExpression(withCondExpr: true)));
        }

        Advance();
        return new DictExpr(offset, [.. entries]);
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator(".") || Current.IsOperator("["))
            {
                node = ParseSubscript(node);
            }
            else if (Current.IsOperator("("))
            {
                node = new CallExpr(Current.Offset, node, ParseCallArgs());
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                Advance();
                node = ParseFilterCall(node);
            }
            else if (Current.IsName("is"))
            {
                node = ParseTest(node);
            }
            else if (Current.IsOperator("("))
            {
                node = new CallExpr(Current.Offset, node, ParseCallArgs());
            }
            else
            {
                return node;
            }
        }
    }

    private FilterExpr ParseFilterCall(Expr target)
    {
        int offset = Current.Offset;
        string name = ExpectName();
        while (Current.IsOperator("."))
        {
            Advance();
            name += "." + ExpectName();
        }

        CallArgs args = Current.IsOperator("(") ? ParseCallArgs() : CallArgs.None;
        return new FilterExpr(offset, target, name, args);
    }

    private Expr ParseTest(Expr target)
    {
        int offset = Advance().Offset;
        bool negated = false;
        if (Current.IsName("not"))
        {
            Advance();
            negated = true;
        }

        string name = ExpectName();
        while (Current.IsOperator("."))
        {
            Advance();
            name += "." + ExpectName();
        }

        CallArgs args = CallArgs.None;
        if (Current.IsOperator("("))
        {
            args = ParseCallArgs();
        }
        else if (StartsTestArgument())
        {
            if (Current.IsName("is"))
            {
                throw Fail("you cannot chain multiple tests with 'is'");
            }

            args = new CallArgs([ParsePostfix(ParsePrimary())], []);
        }

        Expr test = new TestExpr(offset, target, name, args);
        return negated ? new UnaryExpr(offset, "not", test) : test;
    }

    private bool StartsTestArgument() =>
        (Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
            || Current.IsOperator("(") || Current.IsOperator("[") || Current.IsOperator("{"))
        && !Current.IsName("else") && !Current.IsName("or") && !Current.IsName("and");

    private Expr ParseSubscript(Expr node)
    {
        Token t = Advance();
        if (t.Value == ".")
        {
            Token attr = Advance();
            return attr.Kind switch
            {
                TokenKind.Name => new GetAttrExpr(attr.Offset, node, attr.Value),
                TokenKind.Integer => new GetItemExpr(attr.Offset, node, new LiteralExpr(attr.Offset, long.Parse(attr.Value, CultureInfo.InvariantCulture))),
                _ => throw Fail($"expected an attribute name after '.', got {Describe(attr)}", attr),
            };
        }

        var args = new List<Expr>();
        while (!Current.IsOperator("]"))
        {
            if (args.Count > 0)
            {
                ExpectOperator(",");
            }

            args.Add(ParseSubscribed());
        }

        Advance();
        Expr index = args.Count switch
        {
            0 => throw Fail("expected a subscript inside '[]'", t),
            1 => args[0],
            _ => new TupleExpr(t.Offset, [.. args]),
        };
        return new GetItemExpr(t.Offset, node, index);
    }

    private Expr ParseSubscribed()
    {
        int offset = Current.Offset;
        Expr? start = null;
        if (Current.IsOperator(":"))
        {
            Advance();
        }
        else
        {
            start = ParseExpression(withCondExpr: true);
            if (!Current.IsOperator(":"))
            {
                return start;
            }

            Advance();
        }

        Expr? stop = null;
        if (!Current.IsOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
        {
            stop = ParseExpression(withCondExpr: true);
        }

        Expr? step = null;
        if (Current.IsOperator(":"))
        {
            Advance();
            if (!Current.IsOperator("]") && !Current.IsOperator(","))
            {
                step = ParseExpression(withCondExpr: true);
            }
        }

        return new SliceExpr(offset, start, stop, step);
    }

    private CallArgs ParseCallArgs()
    {
        ExpectOperator("(");
        var positional = new List<Expr>();
        var keyword = new List<(string, Expr)>();
        while (!Current.IsOperator(")"))
        {
            if (positional.Count + keyword.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator(")"))
                {
                    break;
                }
            }

            if (Current.IsOperator("*") || Current.IsOperator("**"))
            {
                throw Fail("*args and **kwargs in calls are not supported");
            }

            if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                string name = Advance().Value;
                Advance();
                keyword.Add((name, ParseExpression(withCondExpr: true)));
            }
            else
            {
                if (keyword.Count > 0)
                {
                    throw Fail("positional argument after a keyword argument");
                }

                positional.Add(ParseExpression(withCondExpr: true));
            }
        }

        Advance();
        return new CallArgs([.. positional], [.. keyword]);
    }
}
