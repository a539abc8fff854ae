namespace Paged.Models.Templates;

// Expressions. Offset indexes the source, for error messages.
internal abstract record Expr(int Offset);

internal sealed record LiteralExpr(int Offset, object? Value) : Expr(Offset);

internal sealed record ListExpr(int Offset, Expr[] Items) : Expr(Offset);

internal sealed record TupleExpr(int Offset, Expr[] Items) : Expr(Offset);

internal sealed record DictExpr(int Offset, (Expr Key, Expr Value)[] Entries) : Expr(Offset);

internal sealed record NameExpr(int Offset, string Name) : Expr(Offset);

internal sealed record GetAttrExpr(int Offset, Expr Target, string Name) : Expr(Offset);

internal sealed record GetItemExpr(int Offset, Expr Target, Expr Index) : Expr(Offset);

internal sealed record SliceExpr(int Offset, Expr? Start, Expr? Stop, Expr? Step) : Expr(Offset);

internal sealed record CallArgs(Expr[] Positional, (string Name, Expr Value)[] Keyword)
{
    public static readonly CallArgs None = new([], []);
}

internal sealed record CallExpr(int Offset, Expr Target, CallArgs Args) : Expr(Offset);

internal sealed record FilterExpr(int Offset, Expr Target, string Name, CallArgs Args) : Expr(Offset);

internal sealed record TestExpr(int Offset, Expr Target, string Name, CallArgs Args) : Expr(Offset);

/// <summary>Op is "not", "-" or "+".</summary>
internal sealed record UnaryExpr(int Offset, string Op, Expr Operand) : Expr(Offset);

/// <summary>Op is an arithmetic operator, "~", "and" or "or".</summary>
internal sealed record BinaryExpr(int Offset, string Op, Expr Left, Expr Right) : Expr(Offset);

/// <summary>A comparison chain: a &lt; b &lt;= c. Ops include "in" and "notin".</summary>
internal sealed record CompareExpr(int Offset, Expr First, (string Op, Expr Operand)[] Rest) : Expr(Offset);

internal sealed record CondExpr(int Offset, Expr Test, Expr Then, Expr? Else) : Expr(Offset);

// Assignment targets of set and for.
internal abstract record Target(int Offset);

internal sealed record NameTarget(int Offset, string Name) : Target(Offset);

internal sealed record TupleTarget(int Offset, string[] Names) : Target(Offset);

internal sealed record AttributeTarget(int Offset, string Name, string Attribute) : Target(Offset);

// Statements.
internal abstract record Stmt(int Offset);

internal sealed record TextStmt(int Offset, string Text) : Stmt(Offset);

internal sealed record OutputStmt(int Offset, Expr Value) : Stmt(Offset);

internal sealed record IfStmt(int Offset, (Expr Test, Stmt[] Body)[] Branches, Stmt[] Else) : Stmt(Offset);

internal sealed record ForStmt(int Offset, Target Target, Expr Iterable, Expr? Filter, Stmt[] Body, Stmt[] Else) : Stmt(Offset);

internal sealed record SetStmt(int Offset, Target Target, Expr Value) : Stmt(Offset);

/// <summary>{% set name %}body{% endset %}, optionally filtered: {% set name | trim %}.</summary>
internal sealed record SetBlockStmt(int Offset, string Name, Stmt[] Body, FilterExpr[] Filters) : Stmt(Offset);

internal sealed record MacroStmt(int Offset, string Name, (string Name, Expr? Default)[] Parameters, Stmt[] Body) : Stmt(Offset);

/// <summary>{% filter name %}body{% endfilter %}: the rendered body passed through filters.</summary>
internal sealed record FilterBlockStmt(int Offset, FilterExpr[] Filters, Stmt[] Body) : Stmt(Offset);

/// <summary>transformers' {% generation %} block (assistant-mask tracking): rendering is unchanged.</summary>
internal sealed record ScopeStmt(int Offset, Stmt[] Body) : Stmt(Offset);

internal sealed record BreakStmt(int Offset) : Stmt(Offset);

internal sealed record ContinueStmt(int Offset) : Stmt(Offset);
