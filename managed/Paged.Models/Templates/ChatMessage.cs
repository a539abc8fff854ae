namespace Paged.Models.Templates;

/// <summary>
/// One chat message as a template sees it: a dict with "role", "content" and any other fields the request
/// carried (tool_calls, tool_call_id, name, reasoning_content...). <see cref="Content"/> is a string, null, or
/// a list of content parts; field values are JSON-like (see <see cref="ValueConverter"/>).
/// </summary>
public sealed class ChatMessage
{
    public ChatMessage(string role, object? content, IReadOnlyDictionary<string, object?>? fields = null)
    {
        ArgumentNullException.ThrowIfNull(role);
        Role = role;
        Content = content;
        Fields = fields ?? new Dictionary<string, object?>();
    }

    public string Role { get; }

    public object? Content { get; }

    /// <summary>Fields beyond role and content, in the order the template will see them.</summary>
    public IReadOnlyDictionary<string, object?> Fields { get; }

    internal Dictionary<string, object?> ToTemplateValue()
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["role"] = Role,
            ["content"] = ValueConverter.From(Content),
        };
        foreach (var (name, value) in Fields)
        {
            dict[name] = ValueConverter.From(value);
        }

        return dict;
    }
}
