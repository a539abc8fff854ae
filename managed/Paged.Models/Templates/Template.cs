namespace Paged.Models.Templates;

/// <summary>A parsed Jinja template, rendered with transformers' environment (trim_blocks, lstrip_blocks,
/// sandboxed immutable values, loop controls, its tojson, raise_exception and strftime_now).</summary>
internal sealed class Template
{
    private readonly SourceText _source;
    private readonly Stmt[] _body;

    private Template(SourceText source, Stmt[] body)
    {
        _source = source;
        _body = body;
    }

    /// <summary>Parses <paramref name="source"/>; a syntax error is a <see cref="TemplateException"/> with its line and column.</summary>
    public static Template Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var text = new SourceText(source);
        return new Template(text, Parser.Parse(text));
    }

    public string Render(IReadOnlyDictionary<string, object?> variables, TemplateLimits limits, Func<DateTime> now)
    {
        var budget = new RenderBudget(limits);
        var globals = new Frame(null);
        Globals.AddTo(globals, budget, now);
        var top = new Frame(globals);
        foreach (var (name, value) in variables)
        {
            top.Set(name, ValueConverter.From(value));
        }

        try
        {
            return new Renderer(_source, budget).Render(_body, top);
        }
        catch (InsufficientExecutionStackException e)
        {
            throw new TemplateException("template rendering nested too deeply", e);
        }
    }
}
