namespace Paged.Models.Templates;

/// <summary>
/// A chat template failed to parse or render: a syntax error (with line and column), an error raised by the
/// template itself (<c>raise_exception</c>), a type error, or a resource limit. Never a crash of the host.
/// </summary>
public sealed class TemplateException : Exception
{
    public TemplateException(string message) : base(message) { }

    public TemplateException(string message, Exception innerException) : base(message, innerException) { }

    public TemplateException(string message, int line, int column) : base($"line {line}, column {column}: {message}")
    {
        Line = line;
        Column = column;
    }

    /// <summary>1-based line of a syntax error; 0 when the error is not tied to a position.</summary>
    public int Line { get; }

    /// <summary>1-based column of a syntax error; 0 when the error is not tied to a position.</summary>
    public int Column { get; }

    /// <summary>True when the template raised the error itself through <c>raise_exception(msg)</c>.</summary>
    public bool RaisedByTemplate { get; init; }
}
