namespace Paged.Models.Templates;

/// <summary>
/// Template source as Jinja sees it: newlines normalized to "\n" and one trailing newline dropped
/// (Jinja's keep_trailing_newline=False). Maps offsets to 1-based line and column for error messages.
/// </summary>
internal sealed class SourceText
{
    public SourceText(string source)
    {
        string text = source.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        Text = text.EndsWith('\n') ? text[..^1] : text;
    }

    public string Text { get; }

    public TemplateException Error(int offset, string message)
    {
        offset = Math.Clamp(offset, 0, Text.Length);
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < offset; i++)
        {
            if (Text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return new TemplateException(message, line, offset - lineStart + 1);
    }
}
