namespace Paged.Models.Templates;

/// <summary>
/// Recursive-descent parser following Jinja's grammar (jinja2/parser.py) for the statements chat templates
/// use: if/elif/else, for (tuple targets, inline filter, else), set (expression, namespace attribute, block),
/// macro, filter blocks, break/continue (loopcontrols) and transformers' generation block.
/// </summary>
internal sealed partial class Parser
{
    private const int MaxNesting = 200;

    private readonly SourceText _source;
    private readonly List<Token> _tokens;
    private int _index;
    private int _depth;
    private readonly Stack<Token> _openBlocks = new();

    private Parser(SourceText source, List<Token> tokens)
    {
        _source = source;
        _tokens = tokens;
    }

    public static Stmt[] Parse(SourceText source)
    {
        var parser = new Parser(source, Lexer.Tokenize(source));
        Stmt[] body = parser.ParseBody([], out _);
        return body;
    }

    private Token Current => _tokens[_index];

    private Token Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    private Token Advance()
    {
        Token t = _tokens[_index];
        if (_index < _tokens.Count - 1)
        {
            _index++;
        }

        return t;
    }

    private TemplateException Fail(string message, Token? at = null) => _source.Error((at ?? Current).Offset, message);

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.BlockEnd => "end of statement block '%}'",
        TokenKind.VariableEnd => "end of print statement '}}'",
        TokenKind.Data => "template data",
        TokenKind.String => $"string '{t.Value}'",
        _ => $"'{t.Value}'",
    };

    private Token ExpectOperator(string op)
    {
        if (!Current.IsOperator(op))
        {
            throw Fail($"expected '{op}', got {Describe(Current)}");
        }

        return Advance();
    }

    private string ExpectName()
    {
        if (Current.Kind != TokenKind.Name)
        {
            throw Fail($"expected a name, got {Describe(Current)}");
        }

        return Advance().Value;
    }

    private void Expect(TokenKind kind, string what)
    {
        if (Current.Kind != kind)
        {
            throw Fail($"expected {what}, got {Describe(Current)}");
        }

        Advance();
    }

    private void EnterNesting()
    {
        if (++_depth > MaxNesting)
        {
            throw Fail($"template nested deeper than {MaxNesting} levels");
        }
    }

    /// <summary>Parses until a block tag whose keyword is in <paramref name="endKeywords"/>; returns that keyword
    /// (consumed, with its block begin) or null at the end of the template when no end keyword was expected.</summary>
    private Stmt[] ParseBody(string[] endKeywords, out string? endKeyword)
    {
        EnterNesting();
        var body = new List<Stmt>();
        endKeyword = null;
        while (true)
        {
            Token t = Current;
            switch (t.Kind)
            {
                case TokenKind.Eof:
                    if (endKeywords.Length > 0)
                    {
                        Token open = _openBlocks.Count > 0 ? _openBlocks.Peek() : t;
                        throw Fail($"'{open.Value}' block is never closed: the template ended where one of {string.Join(", ", endKeywords)} was expected", open);
                    }

                    _depth--;
                    return [.. body];
                case TokenKind.Data:
                    Advance();
                    body.Add(new TextStmt(t.Offset, t.Value));
                    break;
                case TokenKind.VariableBegin:
                    Advance();
                    body.Add(new OutputStmt(t.Offset, ParseTuple(withCondExpr: true, explicitParentheses: false)));
                    Expect(TokenKind.VariableEnd, "'}}'");
                    break;
                case TokenKind.BlockBegin:
                    Token keyword = Peek();
                    if (keyword.Kind == TokenKind.Name && Array.IndexOf(endKeywords, keyword.Value) >= 0)
                    {
                        Advance();
                        Advance();
                        endKeyword = keyword.Value;
                        _depth--;
                        return [.. body];
                    }

                    Advance();
                    body.Add(ParseStatement(endKeywords));
                    break;
                default:
                    throw Fail($"unexpected {Describe(t)}");
            }
        }
    }

    private Stmt ParseStatement(string[] enclosingEnds)
    {
        Token keyword = Current;
        if (keyword.Kind != TokenKind.Name)
        {
            throw Fail("expected a statement name after '{%'");
        }

        Advance();
        _openBlocks.Push(keyword);
        try
        {
            return ParseStatementBody(keyword, enclosingEnds);
        }
        finally
        {
            _openBlocks.Pop();
        }
    }

    private Stmt ParseStatementBody(Token keyword, string[] enclosingEnds)
    {
        switch (keyword.Value)
        {
            case "if": return ParseIf(keyword.Offset);
            case "for": return ParseFor(keyword.Offset);
            case "set": return ParseSet(keyword.Offset);
            case "macro": return ParseMacro(keyword.Offset);
            case "filter": return ParseFilterBlock(keyword.Offset);
            case "generation":
                Expect(TokenKind.BlockEnd, "'%}'");
                Stmt[] generation = ParseBody(["endgeneration"], out _);
                Expect(TokenKind.BlockEnd, "'%}'");
                return new ScopeStmt(keyword.Offset, generation);
            case "break":
            case "continue":
                Expect(TokenKind.BlockEnd, "'%}'");
                return keyword.Value == "break" ? new BreakStmt(keyword.Offset) : new ContinueStmt(keyword.Offset);
            default:
                string hint = enclosingEnds.Length > 0 ? $" (the innermost open block expects one of: {string.Join(", ", enclosingEnds)})" : "";
                throw Fail($"unknown or unsupported statement '{keyword.Value}'{hint}", keyword);
        }
    }

    private IfStmt ParseIf(int offset)
    {
        var branches = new List<(Expr, Stmt[])>();
        Stmt[] elseBody = [];
        Expr test = ParseTuple(withCondExpr: false, explicitParentheses: false);
        while (true)
        {
            Expect(TokenKind.BlockEnd, "'%}'");
            Stmt[] body = ParseBody(["elif", "else", "endif"], out string? end);
            branches.Add((test, body));
            if (end == "elif")
            {
                test = ParseTuple(withCondExpr: false, explicitParentheses: false);
                continue;
            }

            if (end == "else")
            {
                Expect(TokenKind.BlockEnd, "'%}'");
                elseBody = ParseBody(["endif"], out _);
            }

            Expect(TokenKind.BlockEnd, "'%}'");
            return new IfStmt(offset, [.. branches], elseBody);
        }
    }

    private ForStmt ParseFor(int offset)
    {
        Target target = ParseAssignTarget(allowAttribute: false);
        if (!Current.IsName("in"))
        {
            throw Fail($"expected 'in' in for loop, got {Describe(Current)}");
        }

        Advance();
        Expr iterable = ParseTuple(withCondExpr: false, explicitParentheses: false, extraEnd: "recursive");
        Expr? filter = null;
        if (Current.IsName("if"))
        {
            Advance();
            filter = ParseExpression(withCondExpr: true);
        }

        if (Current.IsName("recursive"))
        {
            throw Fail("recursive for loops are not supported");
        }

        Expect(TokenKind.BlockEnd, "'%}'");
        Stmt[] body = ParseBody(["endfor", "else"], out string? end);
        Stmt[] elseBody = [];
        if (end == "else")
        {
            Expect(TokenKind.BlockEnd, "'%}'");
            elseBody = ParseBody(["endfor"], out _);
        }

        Expect(TokenKind.BlockEnd, "'%}'");
        return new ForStmt(offset, target, iterable, filter, body, elseBody);
    }

    private Stmt ParseSet(int offset)
    {
        Target target = ParseAssignTarget(allowAttribute: true);
        if (Current.IsOperator("="))
        {
            Advance();
            Expr value = ParseTuple(withCondExpr: true, explicitParentheses: false);
            Expect(TokenKind.BlockEnd, "'%}'");
            return new SetStmt(offset, target, value);
        }

        if (target is not NameTarget name)
        {
            throw Fail("a block set ({% set x %}...{% endset %}) takes a single name");
        }

        FilterExpr[] filters = ParseFilterChain();
        Expect(TokenKind.BlockEnd, "'%}'");
        Stmt[] body = ParseBody(["endset"], out _);
        Expect(TokenKind.BlockEnd, "'%}'");
        return new SetBlockStmt(offset, name.Name, body, filters);
    }

    private FilterBlockStmt ParseFilterBlock(int offset)
    {
        var filters = new List<FilterExpr> { ParseFilterCall(new LiteralExpr(offset, null)) };
        filters.AddRange(ParseFilterChain());
        Expect(TokenKind.BlockEnd, "'%}'");
        Stmt[] body = ParseBody(["endfilter"], out _);
        Expect(TokenKind.BlockEnd, "'%}'");
        return new FilterBlockStmt(offset, [.. filters], body);
    }

    private FilterExpr[] ParseFilterChain()
    {
        var filters = new List<FilterExpr>();
        while (Current.IsOperator("|"))
        {
            Advance();
            filters.Add(ParseFilterCall(new LiteralExpr(Current.Offset, null)));
        }

        return [.. filters];
    }

    private MacroStmt ParseMacro(int offset)
    {
        string name = ExpectName();
        ExpectOperator("(");
        var parameters = new List<(string, Expr?)>();
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0)
            {
                ExpectOperator(",");
                if (Current.IsOperator(")"))
                {
                    break;
                }
            }

            string parameter = ExpectName();
            Expr? defaultValue = null;
            if (Current.IsOperator("="))
            {
                Advance();
                defaultValue = ParseExpression(withCondExpr: true);
            }
            else if (parameters.Count > 0 && parameters[^1].Item2 is not null)
            {
                throw Fail($"macro parameter '{parameter}' without a default follows one with a default");
            }

            parameters.Add((parameter, defaultValue));
        }

        Advance();
        Expect(TokenKind.BlockEnd, "'%}'");
        Stmt[] body = ParseBody(["endmacro"], out _);
        if (Current.Kind == TokenKind.Name && Current.Value == name)
        {
            Advance();
        }

        Expect(TokenKind.BlockEnd, "'%}'");
        return new MacroStmt(offset, name, [.. parameters], body);
    }

    /// <summary>name | name.attr (set only) | name, name, ... (optionally parenthesized).</summary>
    private Target ParseAssignTarget(bool allowAttribute)
    {
        int offset = Current.Offset;
        bool parenthesized = Current.IsOperator("(");
        if (parenthesized)
        {
            Advance();
        }

        string first = ExpectName();
        if (allowAttribute && !parenthesized && Current.IsOperator("."))
        {
            Advance();
            return new AttributeTarget(offset, first, ExpectName());
        }

        var names = new List<string> { first };
        bool isTuple = parenthesized;
        while (Current.IsOperator(","))
        {
            isTuple = true;
            Advance();
            if (Current.Kind != TokenKind.Name || Current.IsName("in"))
            {
                break;
            }

            names.Add(ExpectName());
        }

        if (parenthesized)
        {
            ExpectOperator(")");
        }

        return isTuple ? new TupleTarget(offset, [.. names]) : new NameTarget(offset, first);
    }
}
